"""A request's output limit fitted to the model: lowered to what it takes, the header saying
so, and a prompt that fills the whole window refused."""

from __future__ import annotations

from typing import Any

import pytest

from securellm.core.config import GatewaySettings, ProviderSettings
from securellm.gateway.catalog import Route, Target
from securellm.gateway.context import RequestContext
from securellm.gateway.limits.fit import LIMIT_HEADER, ContextExceeded, fit_output
from securellm.gateway.model_limits import ModelLimitTable
from securellm.providers.base import Provider

ASK = [{"role": "user", "content": "hi"}]


def target(provider: str, model: str, kind: str = "openai-compatible", context: int = 0) -> Target:
    settings = ProviderSettings(name=provider, kind=kind)
    upstream = Provider(settings)
    if context:
        upstream.context_windows[model] = context
    return Target(upstream, model)


def fit(
    body: dict[str, Any], *targets: Target, endpoint: str = "chat", **gateway: Any
) -> RequestContext:
    ctx = RequestContext(endpoint=endpoint)
    route = Route(targets[0].public_id, targets)
    fit_output(ctx, route, body, ModelLimitTable(GatewaySettings(**gateway)))
    return ctx


def test_max_tokens_above_the_models_maximum_output_is_lowered_to_it() -> None:
    body = {"messages": ASK, "max_tokens": 32_000}
    ctx = fit(body, target("ds", "deepseek-chat", "deepseek"))
    assert body["max_tokens"] == 8_192
    assert ctx.response_headers[LIMIT_HEADER] == "lowered 32000 -> 8192 (model limit)"


def test_a_small_context_lowers_it_to_the_window_minus_the_prompt() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 32_000}
    ctx = fit(body, target("local", "gemma", context=2048))
    assert body["max_tokens"] == 2048 - (100 + 4 + 1)
    assert ctx.response_headers[LIMIT_HEADER].endswith("(context window 2048)")


def test_each_dialects_field_is_the_one_lowered() -> None:
    chat = {"messages": ASK, "max_completion_tokens": 20_000}
    responses = {"input": "hi", "max_output_tokens": 20_000}
    fit(chat, target("ds", "deepseek-chat", "deepseek"))
    fit(responses, target("ds", "deepseek-chat", "deepseek"), endpoint="responses")
    assert (chat["max_completion_tokens"], responses["max_output_tokens"]) == (8_192, 8_192)


def test_a_limit_that_fits_is_left_alone_and_no_header_is_added() -> None:
    body = {"messages": ASK, "max_tokens": 100}
    ctx = fit(body, target("ds", "deepseek-chat", "deepseek"))
    assert body["max_tokens"] == 100
    assert LIMIT_HEADER not in ctx.response_headers


def test_a_model_with_unknown_limits_is_left_alone() -> None:
    body = {"messages": ASK, "max_tokens": 32_000}
    fit(body, target("local", "mystery"))
    assert body["max_tokens"] == 32_000


def test_a_request_without_a_limit_gets_none_added() -> None:
    body: dict[str, Any] = {"messages": ASK}
    fit(body, target("ds", "deepseek-chat", "deepseek"))
    assert "max_tokens" not in body


def test_an_alias_is_fitted_to_its_smallest_target() -> None:
    body = {"messages": ASK, "max_tokens": 32_000}
    fit(body, target("oa", "gpt-4o-mini", "openai"), target("ds", "deepseek-chat", "deepseek"))
    assert body["max_tokens"] == 8_192


def test_config_overrides_what_the_upstream_reported() -> None:
    body = {"messages": ASK, "max_tokens": 32_000}
    fit(body, target("local", "gemma", context=2048), model_context={"local/*": {"max_output": 64}})
    assert body["max_tokens"] == 64


def test_a_prompt_that_alone_fills_the_context_window_is_refused() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 9000}], "max_tokens": 10}
    with pytest.raises(ContextExceeded) as refused:
        fit(body, target("local", "gemma", context=2048))
    assert refused.value.status == 400
    assert refused.value.param == "messages"
    assert "context window" in refused.value.message and "2048 tokens" in refused.value.message
