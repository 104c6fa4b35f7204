"""The gateway's admission policy: rate limits, concurrency and budgets before a call,
real tokens and cost after it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from securellm.core.config import Settings
from securellm.core.errors import SecureLLMError
from securellm.gateway.audit.record import request_content
from securellm.gateway.catalog import Route
from securellm.gateway.context import RequestContext
from securellm.gateway.limits import estimate
from securellm.gateway.limits.budget import BudgetGate
from securellm.gateway.limits.fallback import FallbackLimiter, Limiter
from securellm.gateway.limits.fit import fit_output
from securellm.gateway.limits.gcra import Adjustment, Bucket, Concurrency
from securellm.gateway.limits.headers import rate_headers
from securellm.gateway.limits.plan import LimitPlan
from securellm.gateway.limits.refusal import Refusals
from securellm.gateway.model_limits import ModelLimitTable
from securellm.gateway.pricing import PriceTable
from securellm.gateway.spend import BudgetLedger, Hold
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
        limits: ModelLimitTable | None = None,
    ) -> None:
        providers = {p.name: p for p in settings.providers}
        self.model_limits = limits or ModelLimitTable(settings.gateway)
        self.enabled = settings.gateway.limits_enabled
        self.plan = LimitPlan(settings.gateway, providers)
        self.refusals = Refusals()
        self.limiter = limiter
        self.prices = prices
        self.budgets = BudgetGate(settings.gateway, ledger, prices, self.model_limits)
        self.default_output = settings.gateway.estimate_output_tokens
        self.ttl_ms = settings.gateway.request_timeout_s * 1000 + 60_000

    async def admit(self, ctx: RequestContext, route: Route, body: JSON) -> None:
        key = ctx.key
        if key is None or not route.targets:
            return
        target = route.targets[0]
        if key.log_content:
            ctx.content = {"request": request_content(body)}
        fit_output(ctx, route, body, self.model_limits)  # what is reserved is what is sent
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
        if key.budget_usd is not None and not key.is_master:
            try:
                reservation.hold = await self.budgets.reserve(ctx, route, body)
            except SecureLLMError:
                self._give_back(ctx)
                raise

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
            self.budgets.settle(reservation.hold, ctx)

    def _settle_limits(self, reservation: Reservation, adjustments: list[Adjustment]) -> None:
        backend = reservation.backend
        assert backend is not None
        self.limiter.settle(backend, adjustments, reservation.concurrency)

    async def drain(self) -> None:
        """Wait for every pending settlement (called on shutdown)."""
        await self.budgets.drain()
        await self.limiter.drain()

    def readiness(self) -> Mapping[str, Any]:
        return self.limiter.status()
