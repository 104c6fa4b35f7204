"""Budget admission: reserve the most a request can cost, refuse what does not fit, and
charge the real cost when it settles.

The most a request can cost is its prompt's token bound plus its output limit (the
request's own ``max_tokens``/``max_completion_tokens``, or the model's maximum output),
priced at the dearest of its route's targets. A request that set no output limit is sent
with one: the model's maximum, or less when only that much of the budget is left (never
less than ``budget_min_output_tokens``), so the upstream cannot write past what was
reserved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from securellm.core.config import GatewaySettings
from securellm.core.errors import BudgetExceeded, PermissionDenied, ServiceUnavailable
from securellm.gateway.catalog import Route, Target
from securellm.gateway.context import RequestContext
from securellm.gateway.limits import estimate
from securellm.gateway.limits.fit import LIMIT_HEADER
from securellm.gateway.model_limits import ModelLimitTable
from securellm.gateway.pricing import Price, PriceTable
from securellm.gateway.spend import NANO, BudgetLedger, Hold, Refusal, format_usd, to_nano
from securellm.providers.base import JSON
from securellm.providers.translate.to_anthropic import DEFAULT_MAX_TOKENS

log = logging.getLogger(__name__)
# Outcomes where the upstream may have done (and billed) the work without reporting usage.
MAYBE_BILLED = frozenset({"ok", "timed_out", "incomplete", "client_gone"})


class UnpricedModel(PermissionDenied):
    """A budgeted key asked for a model whose price is unknown: its spend could not be held."""

    code = "model_not_priced"


@dataclass(frozen=True)
class Quote:
    """The most a request can cost on its route, as a function of its output limit."""

    prompt: int  # prompt tokens at most
    choices: int
    output: int  # output tokens per choice: the request's limit, or the one the gateway sets
    explicit: bool  # the request set its limit itself
    prices: tuple[Price, ...]  # one per target

    def cost(self, output: int) -> int:
        """Nano-USD, at the dearest target."""
        return max(p.nano(self.prompt, self.choices * output) for p in self.prices)


class BudgetGate:
    """Holds budgeted keys to their budget through a :class:`BudgetLedger`."""

    def __init__(
        self,
        settings: GatewaySettings,
        ledger: BudgetLedger,
        prices: PriceTable,
        limits: ModelLimitTable | None = None,
    ) -> None:
        self.ledger = ledger
        self.prices = prices
        self.limits = limits or ModelLimitTable(settings)
        self.default_output = settings.default_max_output_tokens
        self.min_output = settings.budget_min_output_tokens

    async def reserve(self, ctx: RequestContext, route: Route, body: JSON) -> Hold | None:
        """Reserve for a budgeted key's request (``None`` when it cannot cost anything)."""
        key = ctx.key
        assert key is not None
        assert key.budget_usd is not None
        if ctx.endpoint == "count_tokens":  # counting tokens is free
            return None
        quote = self.quote(ctx, route, body)
        worst = quote.cost(quote.output)
        if worst == 0:
            return None
        least = quote.output if quote.explicit else min(quote.output, self.min_output)
        capped: list[int] = []

        def fit(remaining: int) -> int | None:
            tokens = _most_output(quote, least, remaining)
            if tokens is None:
                return None
            capped.append(tokens)
            return quote.cost(tokens)

        try:
            result = await self.ledger.reserve(
                key.id,
                key.budget_period or "total",
                to_nano(key.budget_usd),
                worst,
                fit if least < quote.output else None,
            )
        except Exception:
            log.exception("budget store unavailable", extra={"request_id": ctx.request_id})
            raise ServiceUnavailable("the budget store is unavailable; try again") from None
        if isinstance(result, Refusal):
            raise budget_refusal(key.name, result, quote.cost(least), least)
        if not quote.explicit:
            limit = capped[-1] if capped else quote.output
            body[_limit_field(ctx.endpoint, route.targets)] = limit
            ctx.response_headers[LIMIT_HEADER] = str(limit)
        return result

    def quote(self, ctx: RequestContext, route: Route, body: JSON) -> Quote:
        """The request's bound on every target; refuses a target with no known price."""
        key = ctx.key
        assert key is not None
        limit = estimate.output_limit(body, ctx.endpoint)
        prices: list[Price] = []
        outputs: list[int] = []
        for target in route.targets:
            price = self.prices.known_price(target.provider.name, target.model)
            if price is None:
                raise UnpricedModel(
                    f"key {key.name!r} has a budget and model {target.public_id!r} has no "
                    f'known price; set [gateway.prices."{target.public_id}"] to use it',
                    param="model",
                )
            prices.append(price)
            outputs.append(self._most_output_of(target))
        explicit = limit.per_choice is not None
        output = limit.per_choice if limit.per_choice is not None else min(outputs)
        return Quote(
            estimate.prompt_token_bound(body), limit.choices, output, explicit, tuple(prices)
        )

    def _most_output_of(self, target: Target) -> int:
        """What ``target`` writes at most for a request that sets no output limit."""
        most = self.limits.max_output(target.provider.name, target.model)
        most = self.default_output if most is None else most
        if target.provider.settings.dialect == "anthropic":
            most = min(most, DEFAULT_MAX_TOKENS)  # what the translation sends when none is set
        return most

    def settle(self, hold: Hold, ctx: RequestContext) -> None:
        """Charge the real cost (see :func:`charge`), releasing the reservation."""
        charged = self.charge(hold, ctx)
        if charged > 0 and ctx.usage.total_tokens == 0:
            ctx.cost_usd = charged / NANO  # the audit record shows what the budget was charged
        self.ledger.settle(hold, charged)

    def charge(self, hold: Hold, ctx: RequestContext) -> int:
        """Nano-USD to charge: the upstream's reported usage at its price; nothing when no
        upstream did the work (a cache hit, an error answer); the whole reservation when an
        upstream may have done it without saying what it used (no usage, or a timeout)."""
        if ctx.cache_hit or ctx.provider is None:
            return 0
        usage = ctx.usage
        if usage.total_tokens > 0:
            price = self.prices.price(ctx.provider, ctx.upstream_model)
            return price.nano(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
        return hold.amount if ctx.outcome in MAYBE_BILLED else 0

    async def drain(self) -> None:
        await self.ledger.drain()


def _most_output(quote: Quote, least: int, remaining: int) -> int | None:
    """The largest output limit in ``[least, quote.output]`` whose cost fits ``remaining``."""
    if quote.cost(least) > remaining:
        return None
    low, high = least, quote.output
    while low < high:
        middle = (low + high + 1) // 2
        if quote.cost(middle) <= remaining:
            low = middle
        else:
            high = middle - 1
    return low


def _limit_field(endpoint: str, targets: Sequence[Target]) -> str:
    """Where the output limit goes: OpenAI's own API takes ``max_completion_tokens`` (its
    reasoning models refuse ``max_tokens``); other OpenAI-compatible servers and the
    translations read ``max_tokens``."""
    if endpoint == "responses":
        return "max_output_tokens"
    if endpoint == "chat" and all(t.provider.settings.kind == "openai" for t in targets):
        return "max_completion_tokens"
    return "max_tokens"


def budget_refusal(name: str, refusal: Refusal, needed: int, output: int) -> BudgetExceeded:
    """429 ``budget_exceeded``: spent and reserved to the nano-dollar, and what was needed."""
    label = {"day": "daily", "month": "monthly", "total": "total"}[refusal.kind]
    message = (
        f"budget exhausted: key {name!r} has {format_usd(refusal.spent)} spent and "
        f"{format_usd(refusal.reserved)} reserved by requests in flight, of its "
        f"{format_usd(refusal.budget)} {label} budget"
    )
    if refusal.resets_at is not None:
        message += f" for {refusal.period}"
    message += (
        f"; this request needs {format_usd(needed)} reserved (its prompt and at most "
        f"{output} output tokens)"
    )
    headers: dict[str, str] = {}
    if refusal.spent + needed <= refusal.budget:
        message += "; it may fit once the requests in flight settle"
        headers["retry-after"] = "1"
    elif refusal.resets_at is not None:
        message += "; the budget resets at "
        message += refusal.resets_at.isoformat(timespec="minutes").replace("+00:00", "Z")
        wait = (refusal.resets_at - datetime.now(refusal.resets_at.tzinfo)).total_seconds()
        headers["retry-after"] = str(max(1, int(wait)))
    return BudgetExceeded(message, headers=headers)
