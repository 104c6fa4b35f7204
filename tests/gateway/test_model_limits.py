"""Each model's context window and maximum output: config, then the upstream, then the table."""

from __future__ import annotations

from typing import Any

from securellm.core.config import GatewaySettings
from securellm.gateway.model_limits import ModelLimits, ModelLimitTable


def table(**gateway: Any) -> ModelLimitTable:
    return ModelLimitTable(GatewaySettings(**gateway))


def test_cloud_models_have_their_published_window_and_output() -> None:
    assert table().limits("ds", "deepseek-chat") == ModelLimits(128_000, 8_192)
    assert table().limits("openai", "gpt-4o-mini") == ModelLimits(128_000, 16_384)
    assert table().limits("claude", "claude-3-5-haiku-20241022") == ModelLimits(200_000, 8_192)


def test_dated_snapshots_match_their_family() -> None:
    assert table().max_output("openai", "gpt-4o-mini-2024-07-18") == 16_384
    assert table().max_output("claude", "claude-opus-4-1-20250805") == 32_000
    assert table().max_output("claude", "claude-opus-4-5-20251101") == 64_000


def test_an_unknown_model_has_no_limits() -> None:
    assert table().limits("local", "gemma-3-270m") == ModelLimits()


def test_a_context_the_upstream_reports_is_used_for_a_model_the_table_lacks() -> None:
    assert table().limits("local", "gemma-3-270m", reported=2048) == ModelLimits(2048, None)


def test_a_reported_context_wins_over_the_table() -> None:
    found = table().limits("local", "deepseek-chat", reported=4096)
    assert found == ModelLimits(4096, 8_192)


def test_model_context_in_config_wins_over_the_upstream_and_the_table() -> None:
    limits = table(model_context={"local/*": {"context": 1024, "max_output": 64}})
    assert limits.limits("local", "deepseek-chat", reported=4096) == ModelLimits(1024, 64)


def test_model_context_may_set_one_figure_and_keep_the_other() -> None:
    limits = table(model_context={"deepseek-chat": {"context": 64_000}})
    assert limits.limits("ds", "deepseek-chat") == ModelLimits(64_000, 8_192)


def test_the_older_max_output_tokens_table_still_sets_the_maximum_output() -> None:
    limits = table(max_output_tokens={"local/*": 8_192})
    assert limits.max_output("local", "gemma-3-270m") == 8_192
    assert limits.limits("local", "gemma-3-270m", reported=2048) == ModelLimits(2048, 8_192)
