"""The gateway's admission policy: rate limits, concurrency and budgets before a call,
real tokens and cost after it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from securellm.core.config import Settings
from securellm.core.errors import BudgetExceeded, ServiceUnavailable
from securellm.gateway.audit.record import request_content
from securellm.gateway.catalog import Route
from securellm.gateway.context import RequestContext
from securellm.gateway.limits import estimate
from securellm.gateway.limits.fallback import FallbackLimiter, Limiter
from securellm.gateway.limits.gcra import Adjustment, Bucket, Concurrency
from securellm.gateway.limits.headers import rate_headers
from securellm.gateway.limits.plan import LimitPlan
from securellm.gateway.limits.refusal import Refusals
from securellm.gateway.pricing import PriceTable
from securellm.gateway.spend import BudgetLedger, Hold, Refusal
from securellm.providers.base import JSON

log = logging.getLogger(__name__)


@dataclass
class Reservation:
    """What ``admit`` took, so ``settle`` can give back or charge the difference."""

    backend: Limiter | None
    token_buckets: list[Bucket] = field(default_factory=list)
    concurrency: Concurrency | None = None
    hold: Hold | None = None


class SecurityAdmission:
    """Implements the ``Admission`` protocol over a limiter, a budget ledger and prices."""

    def __init__(
        self,
        settings: Settings,
        limiter: FallbackLimiter,
        ledger: BudgetLedger,
        prices: PriceTable,
    ) -> None:
        providers = {p.name: p for p in settings.providers}
        self.enabled = settings.gateway.limits_enabled
        self.plan = LimitPlan(settings.gateway, providers)
        self.refusals = Refusals()
        self.limiter = limiter
        self.ledger = ledger
        self.prices = prices
        self.default_output = settings.gateway.estimate_output_tokens
        self.ttl_ms = settings.gateway.request_timeout_s * 1000 + 60_000
        self._tasks: set[asyncio.Task[None]] = set()

    async def admit(self, ctx: RequestContext, route: Route, body: JSON) -> None:
        key = ctx.key
        if key is None or not route.targets:
            return
        target = route.targets[0]
        if key.log_content:
            ctx.content = {"request": request_content(body)}
        prompt = estimate.prompt_tokens(body)
        output = estimate.output_tokens(body, ctx.endpoint, self.default_output)
        reservation = Reservation(backend=None)
        if self.enabled:
            buckets = self.plan.buckets(
                key, target.provider.name, ctx.model or "", target.public_id, prompt + output
            )
            concurrency = self.plan.concurrency(key, ctx.request_id)
            if buckets or concurrency:
                decision, backend = await self.limiter.acquire(buckets, concurrency, self.ttl_ms)
                if not decision.allowed:
                    raise self.refusals.rate_limited(decision, buckets, ctx.dialect)
                ctx.response_headers.update(rate_headers(buckets, decision, ctx.dialect))
                reservation = Reservation(
                    backend, [b for b in buckets if b.kind == "tokens"], concurrency
                )
        ctx.reservation = reservation
        if key.budget_usd is not None and not key.is_admin:
            price = self.prices.price(target.provider.name, target.model)
            reservation.hold = await self._reserve(ctx, price.estimate(prompt, output))

    async def _reserve(self, ctx: RequestContext, amount: float) -> Hold:
        key = ctx.key
        assert key is not None
        assert key.budget_usd is not None
        try:
            result = await self.ledger.reserve(
                key.id, key.budget_period or "total", key.budget_usd, amount
            )
        except Exception:
            log.exception("budget store unavailable", extra={"request_id": ctx.request_id})
            self._give_back(ctx)
            raise ServiceUnavailable("the budget store is unavailable; try again") from None
        if isinstance(result, Refusal):
            self._give_back(ctx)
            raise _budget_refusal(key.name, result)
        return result

    def _give_back(self, ctx: RequestContext) -> None:
        """Undo the limit reservations of a request refused after them."""
        reservation = ctx.reservation
        ctx.reservation = None
        if isinstance(reservation, Reservation) and reservation.backend is not None:
            adjustments: list[Adjustment] = [(b, -b.cost) for b in reservation.token_buckets]
            self._settle_limits(reservation, adjustments)

    def settle(self, ctx: RequestContext) -> None:
        # A cache hit reached no upstream: it costs nothing and uses no upstream tokens.
        if ctx.provider is not None and not ctx.cache_hit:
            ctx.cost_usd = self.prices.cost(ctx.provider, ctx.upstream_model, ctx.usage)
        reservation = ctx.reservation
        if not isinstance(reservation, Reservation):
            return
        actual = 0 if ctx.cache_hit else ctx.usage.total_tokens
        if reservation.backend is not None:
            adjustments: list[Adjustment] = [
                (b, actual - b.cost) for b in reservation.token_buckets
            ]
            self._settle_limits(reservation, adjustments)
        if reservation.hold is not None:
            self._spawn(self._settle_budget(reservation.hold, ctx.cost_usd, ctx.request_id))

    def _settle_limits(self, reservation: Reservation, adjustments: list[Adjustment]) -> None:
        backend = reservation.backend
        assert backend is not None
        self.limiter.settle(backend, adjustments, reservation.concurrency)

    async def _settle_budget(self, hold: Hold, cost: float, request_id: str) -> None:
        try:
            await self.ledger.settle(hold, cost)
        except Exception:
            log.exception("could not record spend", extra={"request_id": request_id})

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every pending settlement (called on shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.limiter.drain()

    def readiness(self) -> Mapping[str, Any]:
        return self.limiter.status()


def _budget_refusal(name: str, refusal: Refusal) -> BudgetExceeded:
    label = {"day": "daily", "month": "monthly", "total": "total"}[refusal.kind]
    message = (
        f"budget exhausted: key {name!r} has spent ${refusal.spent:.4f} of its "
        f"${refusal.budget:.2f} {label} budget"
    )
    headers: dict[str, str] = {}
    if refusal.resets_at is not None:
        message += f" for {refusal.period}; it resets at "
        message += refusal.resets_at.isoformat(timespec="minutes").replace("+00:00", "Z")
        wait = (refusal.resets_at - datetime.now(refusal.resets_at.tzinfo)).total_seconds()
        headers["retry-after"] = str(max(1, int(wait)))
    return BudgetExceeded(message, headers=headers)
