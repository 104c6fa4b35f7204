"""A cheap, deliberately generous token estimate of a request, before the call.

Works on OpenAI bodies (chat ``messages``, completions ``prompt``, embeddings ``input``)
and Anthropic bodies (``system``, ``messages`` with content blocks, ``max_tokens``). About
four characters per token, plus a few tokens per message; the real count replaces the
estimate when the call settles.
"""

from __future__ import annotations

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
    for field in ("system", "prompt", "input", "tools"):
        if field in body:
            chars += _text_chars(body[field])
    return -(-chars // CHARS_PER_TOKEN) + PER_MESSAGE * count + 1


def output_tokens(body: dict[str, Any], endpoint: str, default: int) -> int:
    if endpoint in ("embeddings", "count_tokens"):
        return 0
    for field in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = body.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            n = body.get("n")
            return value * (n if isinstance(n, int) and n > 0 else 1)
    return default
