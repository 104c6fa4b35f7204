"""A cheap, deliberately generous token estimate of a request, before the call.

Works on OpenAI bodies (chat ``messages``, completions ``prompt``, embeddings ``input``)
and Anthropic bodies (``system``, ``messages`` with content blocks, ``max_tokens``). About
four characters per token, plus a few tokens per message; the real count replaces the
estimate when the call settles. Budgets need a bound instead of an estimate:
:func:`prompt_token_bound` and :func:`output_limit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4
PER_MESSAGE = 4


def _text_chars(value: Any) -> int:
    """Characters of text in a string, a list of parts/blocks, or nested structures."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_chars(v) for v in value)
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return len(value["text"])
        return sum(_text_chars(v) for k, v in value.items() if k not in ("type", "image_url"))
    return 0


def prompt_tokens(body: dict[str, Any]) -> int:
    chars = 0
    messages = body.get("messages")
    count = 0
    if isinstance(messages, list):
        count = len(messages)
        chars += sum(_text_chars(m.get("content")) for m in messages if isinstance(m, dict))
    for field in ("system", "instructions", "prompt", "input", "tools"):
        if field in body:
            chars += _text_chars(body[field])
    return -(-chars // CHARS_PER_TOKEN) + PER_MESSAGE * count + 1


def output_tokens(body: dict[str, Any], endpoint: str, default: int) -> int:
    if endpoint in ("embeddings", "count_tokens"):
        return 0
    found = output_field(body)
    if found is None:
        return default
    n = body.get("n")
    return found[1] * (n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1)


# --- Budgets: the most a request can cost, not a guess ---------------------------------

# Fields whose text the upstream turns into prompt tokens.
PROMPT_FIELDS = (
    "system", "instructions", "messages", "prompt", "suffix", "input", "tools", "functions",
    "response_format", "text",
)  # fmt: skip
MEDIA_TYPES = frozenset({"image_url", "image", "input_image", "input_audio"})
MEDIA_TOKENS = 1_600  # per image or audio part: billed by its size, not by its bytes
TOOLS_TOKENS = 600  # the provider's own tool-use instructions (Anthropic's: about 350)
REQUEST_TOKENS = 16  # start-of-text and reply priming


@dataclass(frozen=True)
class OutputLimit:
    """How much a request may write: ``per_choice`` tokens (``None``: it set no limit) for
    each of ``choices`` completions."""

    per_choice: int | None
    choices: int = 1


def prompt_token_bound(body: dict[str, Any]) -> int:
    """At most how many prompt tokens the body can be, for a byte-level tokenizer (at most
    one token per UTF-8 byte of text, as with OpenAI's, Llama's and Gemma's). Keys count
    as text (they stand for the chat template's role markers); images and audio count
    ``MEDIA_TOKENS`` each, the one figure here that is an allowance rather than a bound."""
    total = REQUEST_TOKENS + (TOOLS_TOKENS if body.get("tools") or body.get("functions") else 0)
    stack: list[Any] = [body[name] for name in PROMPT_FIELDS if name in body]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            total += len(value) if value.isascii() else len(value.encode("utf-8", "replace"))
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            if value.get("type") in MEDIA_TYPES:
                total += MEDIA_TOKENS
                continue
            stack.extend(value.keys())
            stack.extend(value.values())
        elif value is not None:
            total += len(str(value))
    return total


def _positive_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


# Where each dialect puts its output limit: chat ``max_completion_tokens`` (or the older
# ``max_tokens``), completions and Anthropic messages ``max_tokens``, Responses
# ``max_output_tokens``. The first one set counts, in this order.
OUTPUT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def output_field(body: dict[str, Any]) -> tuple[str, int] | None:
    """The field holding the request's output limit and its value, if it set one."""
    for field in OUTPUT_FIELDS:
        limit = _positive_int(body.get(field))
        if limit is not None:
            return field, limit
    return None


def output_limit(body: dict[str, Any], endpoint: str) -> OutputLimit:
    """The output limit a request set (see :data:`OUTPUT_FIELDS`) and how many completions
    it asks for (``n``, ``best_of``)."""
    if endpoint in ("embeddings", "count_tokens"):
        return OutputLimit(0)
    choices = max(_positive_int(body.get("n")) or 1, _positive_int(body.get("best_of")) or 1)
    found = output_field(body)
    return OutputLimit(found[1] if found else None, choices)
