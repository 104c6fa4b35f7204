"""Prices per 1M tokens: defaults for the seed providers, overrides from config."""

from __future__ import annotations

import pytest

from securellm.core.config import ProviderSettings
from securellm.core.config.sections import ModelPrice
from securellm.gateway.pricing import Price, PriceTable
from securellm.providers.base import Usage


def table(overrides: dict[str, ModelPrice] | None = None) -> PriceTable:
    providers = {
        "deepseek": ProviderSettings(name="deepseek", kind="deepseek"),
        "openai": ProviderSettings(name="openai", kind="openai"),
        "claude": ProviderSettings(name="claude", kind="anthropic"),
        "local": ProviderSettings(name="local", kind="llamacpp"),
        "ollama": ProviderSettings(name="ollama", kind="ollama"),
    }
    return PriceTable(providers, overrides)


def test_deepseek_chat_is_priced_per_million_tokens() -> None:
    cost = table().cost("deepseek", "deepseek-chat", Usage(1_000_000, 1_000_000))
    assert cost == pytest.approx(0.28 + 0.42)


def test_cached_input_is_charged_at_the_cached_rate() -> None:
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=0, cached_tokens=400_000)
    assert table().cost("openai", "gpt-4o", usage) == pytest.approx(0.6 * 2.50 + 0.4 * 1.25)


def test_dated_anthropic_models_match_their_family() -> None:
    cost = table().cost("claude", "claude-sonnet-4-20250514", Usage(1_000_000, 1_000_000))
    assert cost == pytest.approx(3.0 + 15.0)


def test_local_providers_are_free() -> None:
    assert table().cost("local", "gpt-4o", Usage(1000, 1000)) == 0.0
    assert table().cost("ollama", "llama3", Usage(1000, 1000)) == 0.0


def test_unknown_models_cost_nothing_but_have_no_known_price() -> None:
    assert table().cost("openai", "a-model-nobody-prices", Usage(1000, 1000)) == 0.0
    assert table().known_price("openai", "a-model-nobody-prices") is None


def test_local_models_have_a_known_price_of_nothing() -> None:
    assert table().known_price("local", "anything") == Price(0.0, 0.0)


def test_dated_openai_snapshots_have_their_alias_price() -> None:
    assert table().price("openai", "gpt-4o-mini-2024-07-18") == table().price(
        "openai", "gpt-4o-mini"
    )


def test_nano_dollars_price_a_call_exactly_in_integers() -> None:
    price = table().price("openai", "gpt-4o-mini")
    assert price.nano(1_000, 500) == 150_000 + 300_000
    assert price.nano(1_000, 0, cached_tokens=1_000) == 75_000


def test_config_override_wins_over_the_default() -> None:
    override = {"openai/gpt-4o": ModelPrice(input=1.0, output=2.0)}
    assert table(override).cost("openai", "gpt-4o", Usage(1_000_000, 1_000_000)) == 3.0


def test_config_override_may_price_a_local_model_by_glob() -> None:
    override = {"local/*": ModelPrice(input=0.5, output=0.5)}
    assert table(override).cost("local", "gemma-3-270m", Usage(1_000_000, 0)) == 0.5


def test_estimate_prices_prompt_and_output_tokens() -> None:
    price = table().price("openai", "gpt-4o-mini")
    assert price.estimate(1_000_000, 1_000_000) == pytest.approx(0.15 + 0.60)
