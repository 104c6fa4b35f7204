"""Build the provider object for a ``[[providers]]`` entry, by dialect."""

from __future__ import annotations

from securellm.core.config import ProviderSettings
from securellm.providers.base import Provider
from securellm.providers.openai_compat import OpenAICompatibleProvider


def build_provider(settings: ProviderSettings) -> Provider:
    """Anthropic and Ollama adapters are added by the providers work (issue 3)."""
    if settings.dialect != "openai":
        raise NotImplementedError(f"provider kind {settings.kind!r} is not available yet")
    return OpenAICompatibleProvider(settings)
