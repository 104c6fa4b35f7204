"""What a call costs: USD per 1M tokens for the seed providers' models, overridable in config.

Prices are the providers' published list prices (USD per 1M tokens; input, output, and
cached input where the provider discounts it). Local upstreams (Ollama, llama.cpp, offload,
vLLM, TGI) cost nothing. ``[gateway.prices."provider/model"]`` (or a bare model name, or a
glob) overrides any entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from securellm.core.config import ProviderSettings
from securellm.core.config.sections import ModelPrice
from securellm.providers.base import Usage

FREE_KINDS = frozenset({"ollama", "offload", "vllm", "tgi", "llamacpp"})


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens."""

    input: float
    output: float
    cached_input: float | None = None

    def cost(self, usage: Usage) -> float:
        """Cost of ``usage``; cached prompt tokens at the cached rate when there is one."""
        cached = min(usage.cached_tokens, usage.prompt_tokens) if self.cached_input else 0
        fresh = usage.prompt_tokens - cached
        total = (
            fresh * self.input
            + cached * (self.cached_input or 0.0)
            + usage.completion_tokens * self.output
        )
        return total / 1_000_000

    def estimate(self, prompt_tokens: int, output_tokens: int) -> float:
        return (prompt_tokens * self.input + output_tokens * self.output) / 1_000_000


FREE = Price(0.0, 0.0)

# Published list prices, USD per 1M tokens (input, output, cached input).
DEFAULT_PRICES: dict[str, Price] = {
    # DeepSeek
    "deepseek-chat": Price(0.28, 0.42, 0.028),
    "deepseek-reasoner": Price(0.28, 0.42, 0.028),
    # OpenAI
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o4-mini": Price(1.10, 4.40, 0.275),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "text-embedding-3-small": Price(0.02, 0.0),
    "text-embedding-3-large": Price(0.13, 0.0),
    # Anthropic (cached input = cache read)
    "claude-opus-4*": Price(15.00, 75.00, 1.50),
    "claude-sonnet-4*": Price(3.00, 15.00, 0.30),
    "claude-3-7-sonnet*": Price(3.00, 15.00, 0.30),
    "claude-3-5-sonnet*": Price(3.00, 15.00, 0.30),
    "claude-3-5-haiku*": Price(0.80, 4.00, 0.08),
    "claude-haiku-4*": Price(1.00, 5.00, 0.10),
    "claude-3-haiku*": Price(0.25, 1.25, 0.03),
}


class PriceTable:
    """Looks up the price of ``provider/model``: config overrides first, then the defaults."""

    def __init__(
        self,
        providers: Mapping[str, ProviderSettings],
        overrides: Mapping[str, ModelPrice] | None = None,
    ) -> None:
        self._kinds = {name: p.kind for name, p in providers.items()}
        self._overrides = {
            pattern: Price(p.input, p.output, p.cached_input)
            for pattern, p in (overrides or {}).items()
        }
        self._memo: dict[tuple[str, str], Price] = {}

    def price(self, provider: str | None, model: str | None) -> Price:
        key = (provider or "", model or "")
        found = self._memo.get(key)
        if found is None:
            found = self._lookup(*key)
            self._memo[key] = found
        return found

    def cost(self, provider: str | None, model: str | None, usage: Usage) -> float:
        return self.price(provider, model).cost(usage)

    def _lookup(self, provider: str, model: str) -> Price:
        qualified = f"{provider}/{model}"
        for name in (qualified, model):
            if name in self._overrides:
                return self._overrides[name]
        for pattern, price in self._overrides.items():
            if fnmatchcase(qualified, pattern) or fnmatchcase(model, pattern):
                return price
        if self._kinds.get(provider) in FREE_KINDS:
            return FREE
        if model in DEFAULT_PRICES:
            return DEFAULT_PRICES[model]
        for pattern, price in DEFAULT_PRICES.items():
            if fnmatchcase(model, pattern):
                return price
        return FREE
