"""Each ``kind`` builds the adapter of its dialect, with the preset's URL and key variable."""

from __future__ import annotations

import pytest

from securellm.core.config import settings_from_mapping
from securellm.providers.anthropic import AnthropicProvider
from securellm.providers.ollama import OllamaProvider
from securellm.providers.openai_compat import OpenAICompatibleProvider
from securellm.providers.registry import build_provider


def provider_for(kind: str, env: dict[str, str] | None = None) -> object:
    settings = settings_from_mapping({"providers": [{"name": "p", "kind": kind}]}, env=env or {})
    return build_provider(settings.providers[0])


@pytest.mark.parametrize(
    ("kind", "adapter"),
    [
        ("openai-compatible", OpenAICompatibleProvider),
        ("openai", OpenAICompatibleProvider),
        ("deepseek", OpenAICompatibleProvider),
        ("llamacpp", OpenAICompatibleProvider),
        ("vllm", OpenAICompatibleProvider),
        ("tgi", OpenAICompatibleProvider),
        ("offload", OpenAICompatibleProvider),
        ("anthropic", AnthropicProvider),
        ("ollama", OllamaProvider),
    ],
)
def test_kind_builds_its_dialects_adapter(kind: str, adapter: type) -> None:
    assert isinstance(provider_for(kind), adapter)


def test_deepseek_needs_only_its_key() -> None:
    provider = provider_for("deepseek", {"DEEPSEEK_API_KEY": "sk-ds"})
    assert isinstance(provider, OpenAICompatibleProvider)
    assert provider.settings.effective_base_url == "https://api.deepseek.com/v1"
    assert provider.settings.api_key is not None
    assert provider.settings.api_key.get_secret_value() == "sk-ds"


def test_anthropic_reads_its_key_and_talks_to_the_api_root() -> None:
    provider = provider_for("anthropic", {"ANTHROPIC_API_KEY": "sk-ant"})
    assert isinstance(provider, AnthropicProvider)
    assert provider.settings.effective_base_url == "https://api.anthropic.com"
    assert provider.settings.api_key is not None


def test_ollama_defaults_to_the_local_server() -> None:
    provider = provider_for("ollama")
    assert isinstance(provider, OllamaProvider)
    assert provider.settings.effective_base_url == "http://127.0.0.1:11434"
