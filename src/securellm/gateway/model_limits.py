"""What each model takes: its context window and its most output tokens per request.

Three sources, the first that knows wins, separately for each figure:

1. config: ``[gateway.model_context."provider/model"]`` (``context``, ``max_output``;
   a bare model name or a glob works too) and the older ``[gateway.max_output_tokens]``
   table, which means ``max_output``;
2. the upstream itself, for local servers (the context they were loaded with, read at
   discovery into ``Provider.context_windows``: llama.cpp's ``/props``, offload's and
   vLLM's ``/v1/models``);
3. the built-in table below, from each provider's published model pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TypeVar

from securellm.core.config import GatewaySettings

T = TypeVar("T")


@dataclass(frozen=True)
class ModelLimits:
    """Tokens: the whole window (prompt and output), and the most output per request."""

    context: int | None = None
    max_output: int | None = None


UNKNOWN = ModelLimits()
K = 1_000

# (context window, maximum output) per model; the first matching pattern wins, so dated
# snapshots and longer names come before the shorter names they start with.
DEFAULT_LIMITS: dict[str, ModelLimits] = {
    # DeepSeek, api-docs.deepseek.com/quick_start/pricing (V3.2): 128K context; chat at
    # most 8K output (4K when max_tokens is unset), reasoner at most 64K (32K unset).
    "deepseek-chat": ModelLimits(128 * K, 8_192),
    "deepseek-reasoner": ModelLimits(128 * K, 65_536),
    # OpenAI, platform.openai.com/docs/models/<model> ("context window", "max output tokens").
    "gpt-5*": ModelLimits(400 * K, 128 * K),
    "gpt-4.1*": ModelLimits(1_047_576, 32_768),
    "gpt-4o-2024-05-13": ModelLimits(128 * K, 4_096),
    "gpt-4o*": ModelLimits(128 * K, 16_384),  # gpt-4o, gpt-4o-mini and their snapshots
    "o3-mini*": ModelLimits(200 * K, 100 * K),
    "o4-mini*": ModelLimits(200 * K, 100 * K),
    "o3*": ModelLimits(200 * K, 100 * K),
    "gpt-3.5-turbo*": ModelLimits(16_385, 4_096),
    "text-embedding-3-*": ModelLimits(8_191, 0),
    # Anthropic, docs.claude.com/en/docs/about-claude/models/overview ("context window",
    # "max output"): 200K for every current model (Sonnet 4/4.5's 1M is a beta header).
    "claude-opus-4-5*": ModelLimits(200 * K, 64 * K),
    "claude-opus-4*": ModelLimits(200 * K, 32 * K),  # Opus 4 and 4.1
    "claude-sonnet-4*": ModelLimits(200 * K, 64 * K),
    "claude-haiku-4*": ModelLimits(200 * K, 64 * K),
    "claude-3-7-sonnet*": ModelLimits(200 * K, 64 * K),
    "claude-3-5-sonnet*": ModelLimits(200 * K, 8_192),
    "claude-3-5-haiku*": ModelLimits(200 * K, 8_192),
    "claude-3-haiku*": ModelLimits(200 * K, 4_096),
}


def match(table: Mapping[str, T], provider: str, model: str) -> T | None:
    """``provider/model``, then the bare model, then the first glob matching either."""
    qualified = f"{provider}/{model}"
    for name in (qualified, model):
        if name in table:
            return table[name]
    for pattern, value in table.items():
        if fnmatchcase(qualified, pattern) or fnmatchcase(model, pattern):
            return value
    return None


@dataclass(frozen=True)
class _Known:
    configured_context: int | None
    published_context: int | None
    max_output: int | None


class ModelLimitTable:
    """Looks up a model's limits: config first, then what the upstream said, then the table."""

    def __init__(self, gateway: GatewaySettings) -> None:
        self._config = {
            pattern: ModelLimits(entry.context, entry.max_output)
            for pattern, entry in gateway.model_context.items()
        }
        self._outputs = dict(gateway.max_output_tokens)
        self._memo: dict[tuple[str, str], _Known] = {}

    def limits(self, provider: str, model: str, reported: int | None = None) -> ModelLimits:
        """The limits of ``provider/model``; ``reported`` is the context its upstream gave."""
        known = self._known(provider, model)
        context = known.configured_context or reported or known.published_context
        return ModelLimits(context, known.max_output)

    def max_output(self, provider: str, model: str) -> int | None:
        return self._known(provider, model).max_output

    def _known(self, provider: str, model: str) -> _Known:
        key = (provider, model)
        found = self._memo.get(key)
        if found is None:
            found = self._lookup(provider, model)
            self._memo[key] = found
        return found

    def _lookup(self, provider: str, model: str) -> _Known:
        config = match(self._config, provider, model) or UNKNOWN
        builtin = match(DEFAULT_LIMITS, provider, model) or UNKNOWN
        output = config.max_output
        if output is None:
            output = match(self._outputs, provider, model)
        if output is None:
            output = builtin.max_output
        return _Known(config.context, builtin.context, output)
