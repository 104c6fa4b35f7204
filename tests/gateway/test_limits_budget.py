"""Budget admission: the most a request can cost on its route, what it is charged, and the
refusal it gets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from securellm.core.config import GatewaySettings, ProviderSettings
from securellm.core.config.sections import ModelPrice
from securellm.core.db import create_engine
from securellm.core.errors import PermissionDenied
from securellm.gateway.catalog import Route, Target
from securellm.gateway.context import RequestContext
from securellm.gateway.keys import KeyRecord
from securellm.gateway.limits.budget import BudgetGate, budget_refusal
from securellm.gateway.migrations import upgrade
from securellm.gateway.model_limits import ModelLimitTable
from securellm.gateway.pricing import PriceTable
from securellm.gateway.spend import BudgetLedger, Hold, Refusal
from securellm.providers.base import Provider, Usage

KEY = KeyRecord(id="key_0123456789abcdef", name="laptop", budget_usd=1.0)
PROVIDERS = {
    "openai": ProviderSettings(name="openai", kind="openai"),
    "deepseek": ProviderSettings(name="deepseek", kind="deepseek"),
    "claude": ProviderSettings(name="claude", kind="anthropic"),
    "proxy": ProviderSettings(name="proxy", base_url="http://127.0.0.1:9/v1"),
}
BODY: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[BudgetLedger]:
    engine = create_engine(f"sqlite:///{tmp_path}/budget.db")
    await upgrade(engine)
    book = BudgetLedger(engine)
    yield book
    await book.drain()
    book.close()
    await engine.dispose()


def gate(ledger: BudgetLedger | None = None, **gateway: Any) -> BudgetGate:
    settings = GatewaySettings(**gateway)
    prices = PriceTable(PROVIDERS, settings.prices)
    return BudgetGate(settings, ledger, prices, ModelLimitTable(settings))  # type: ignore[arg-type]


def route(*targets: str) -> Route:
    found = []
    for target in targets:
        provider, model = target.split("/", 1)
        found.append(Target(Provider(PROVIDERS[provider]), model))
    return Route(targets[0], tuple(found))


def context(endpoint: str = "chat") -> RequestContext:
    return RequestContext(endpoint=endpoint, key=KEY)


def test_a_request_without_max_tokens_is_bounded_by_the_model_maximum_output() -> None:
    quote = gate().quote(context(), route("openai/gpt-4o-mini"), dict(BODY))
    assert (quote.output, quote.explicit) == (16_384, False)


def test_a_request_with_max_tokens_is_bounded_by_it() -> None:
    body = {**BODY, "max_completion_tokens": 100, "n": 3}
    quote = gate().quote(context(), route("openai/gpt-4o-mini"), body)
    assert (quote.output, quote.choices, quote.explicit) == (100, 3, True)


def test_config_overrides_the_maximum_output_table() -> None:
    g = gate(max_output_tokens={"openai/gpt-4o-mini": 1000})
    assert g.quote(context(), route("openai/gpt-4o-mini"), dict(BODY)).output == 1000


def test_a_model_in_neither_table_gets_the_default_maximum_output() -> None:
    g = gate(prices={"proxy/custom": ModelPrice(input=1, output=1)}, default_max_output_tokens=777)
    assert g.quote(context(), route("proxy/custom"), dict(BODY)).output == 777


def test_anthropic_upstreams_are_bounded_by_the_limit_the_translation_sends() -> None:
    quote = gate().quote(context(), route("claude/claude-sonnet-4-5"), dict(BODY))
    assert quote.output == 4096


def test_a_route_is_priced_at_its_dearest_target() -> None:
    body = {**BODY, "max_tokens": 1_000}
    quote = gate().quote(context(), route("deepseek/deepseek-chat", "openai/gpt-4o"), body)
    assert quote.cost(1_000) == PriceTable(PROVIDERS).price("openai", "gpt-4o").nano(
        quote.prompt, 1_000
    )


def test_a_route_with_an_unpriced_target_is_refused() -> None:
    with pytest.raises(PermissionDenied, match="no known price") as caught:
        gate().quote(context(), route("openai/gpt-4o", "proxy/mystery"), dict(BODY))
    assert caught.value.code == "model_not_priced"


async def test_the_gateway_writes_the_limit_it_reserved_against(ledger: BudgetLedger) -> None:
    body = dict(BODY)
    ctx = context()
    hold = await gate(ledger).reserve(ctx, route("openai/gpt-4o-mini"), body)
    assert hold is not None
    assert body["max_completion_tokens"] == 16_384
    assert ctx.response_headers["x-securellm-max-tokens"] == "16384"


async def test_other_openai_compatible_upstreams_get_max_tokens(ledger: BudgetLedger) -> None:
    body = dict(BODY)
    await gate(ledger).reserve(context(), route("deepseek/deepseek-chat"), body)
    assert body["max_tokens"] == 8_192 and "max_completion_tokens" not in body


async def test_counting_tokens_reserves_nothing(ledger: BudgetLedger) -> None:
    body = {**BODY, "max_tokens": 10}
    hold = await gate(ledger).reserve(context("count_tokens"), route("openai/gpt-4o"), body)
    assert hold is None


HOLD = Hold("k", "total", 5_000)


def charged(ctx: RequestContext) -> int:
    return gate().charge(HOLD, ctx)


def test_a_settled_call_is_charged_its_real_usage() -> None:
    ctx = context()
    ctx.provider, ctx.upstream_model = "openai", "gpt-4o-mini"
    ctx.usage = Usage(prompt_tokens=1_000, completion_tokens=100)
    assert charged(ctx) == 150_000 + 60_000


def test_a_cache_hit_is_charged_nothing() -> None:
    ctx = context()
    ctx.provider, ctx.upstream_model, ctx.cache_hit = "openai", "gpt-4o-mini", True
    assert charged(ctx) == 0


def test_an_upstream_error_is_charged_nothing() -> None:
    ctx = context()
    ctx.provider, ctx.upstream_model, ctx.outcome, ctx.status = "openai", "gpt-4o", "failed", 502
    assert charged(ctx) == 0


def test_a_timeout_is_charged_the_whole_reservation() -> None:
    ctx = context()
    ctx.provider, ctx.upstream_model, ctx.outcome = "openai", "gpt-4o", "timed_out"
    assert charged(ctx) == 5_000


def test_a_stream_cut_short_without_usage_is_charged_the_whole_reservation() -> None:
    ctx = context()
    ctx.provider, ctx.upstream_model, ctx.outcome = "openai", "gpt-4o", "incomplete"
    assert charged(ctx) == 5_000


def test_a_client_gone_mid_call_without_usage_is_charged_the_whole_reservation() -> None:
    ctx = context()
    ctx.provider, ctx.upstream_model, ctx.outcome = "openai", "gpt-4o", "client_gone"
    assert charged(ctx) == 5_000


def test_a_refusal_that_fits_once_requests_settle_says_so_and_asks_for_a_quick_retry() -> None:
    refusal = Refusal(4_875_000, 125_000, 5_000_000, "total", None, "total")
    error = budget_refusal("laptop", refusal, 100_000, 256)
    assert error.message == (
        "budget exhausted: key 'laptop' has $0.004875 spent and $0.000125 reserved by "
        "requests in flight, of its $0.005 total budget; this request needs $0.0001 "
        "reserved (its prompt and at most 256 output tokens); it may fit once the requests "
        "in flight settle"
    )
    assert error.headers == {"retry-after": "1"}


def test_a_refusal_that_cannot_fit_this_period_says_when_it_resets() -> None:
    resets = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    refusal = Refusal(4_990_000, 0, 5_000_000, "2026-11-21", resets, "day")
    error = budget_refusal("laptop", refusal, 100_000, 256)
    assert "daily budget for 2026-11-21" in error.message
    assert "the budget resets at" in error.message
    assert 7_000 < int(error.headers["retry-after"]) <= 7_200
