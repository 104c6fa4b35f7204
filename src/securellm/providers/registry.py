"""Build the provider object for a ``[[providers]]`` entry, by dialect."""

from __future__ import annotations

from securellm.core.config import ProviderSettings
from securellm.providers.anthropic import AnthropicProvider
from securellm.providers.base import Provider
from securellm.providers.ollama import OllamaProvider
from securellm.providers.openai_compat import OpenAICompatibleProvider

_BY_DIALECT: dict[str, type[Provider]] = {
    "openai": OpenAICompatibleProvider,
    "anthropic": AnthropicProvider,
    "ollama": OllamaProvider,
}


def build_provider(settings: ProviderSettings) -> Provider:
    """The adapter for the upstream's dialect (every kind is a preset of one dialect)."""
    return _BY_DIALECT[settings.dialect](settings)
