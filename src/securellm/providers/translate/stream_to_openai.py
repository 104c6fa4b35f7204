"""Anthropic's SSE event sequence -> OpenAI ``chat.completion.chunk`` events."""

from __future__ import annotations

from typing import Any

from securellm.providers.base import Usage
from securellm.providers.translate.common import (
    JSON,
    OPENAI_DONE,
    count,
    finish_reason,
    new_id,
    now,
    openai_error_sse,
    openai_sse,
    openai_usage,
    usage_from_anthropic,
)


class AnthropicToOpenAIStream:
    """Feed each Anthropic event (its ``type`` and data); get the OpenAI events to send.

    ``usage`` holds the counts seen so far (input from ``message_start``, output from the
    cumulative ``message_delta``); ``complete`` turns True at ``message_stop``.
    """

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.usage = Usage()
        self.complete = False
        self.failed = False
        self._id = new_id("chatcmpl-")
        self._created = now()
        self._tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool index

    def feed(self, data: JSON) -> list[bytes]:
        kind = data.get("type")
        handler = _HANDLERS.get(str(kind))
        return handler(self, data) if handler is not None else []

    def _chunk(self, delta: JSON, finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return openai_sse(self._envelope([choice]))

    def _envelope(self, choices: list[JSON]) -> JSON:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.model,
            "choices": choices,
        }

    def _message_start(self, data: JSON) -> list[bytes]:
        message = data.get("message") or {}
        if isinstance(message.get("id"), str):
            self._id = f"chatcmpl-{message['id']}"
        self.usage = usage_from_anthropic(message.get("usage"))
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, data: JSON) -> list[bytes]:
        block = data.get("content_block") or {}
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind != "tool_use":
            return []
        position = len(self._tool_index)
        self._tool_index[_index(data)] = position
        head = {
            "index": position,
            "id": block.get("id"),
            "type": "function",
            "function": {"name": block.get("name"), "arguments": ""},
        }
        return [self._chunk({"tool_calls": [head]})]

    def _block_delta(self, data: JSON) -> list[bytes]:
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [self._chunk({"reasoning_content": delta["thinking"]})]
        if kind == "input_json_delta" and delta.get("partial_json"):
            position = self._tool_index.get(_index(data))
            if position is None:
                return []
            piece = {"index": position, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [piece]})]
        return []

    def _message_delta(self, data: JSON) -> list[bytes]:
        usage = data.get("usage") or {}
        if usage.get("input_tokens") is not None:
            self.usage = usage_from_anthropic({**usage, "output_tokens": 0})
        self.usage.completion_tokens = count(usage.get("output_tokens"))
        reason = (data.get("delta") or {}).get("stop_reason")
        return [self._chunk({}, finish_reason(reason))]

    def _message_stop(self, _data: JSON) -> list[bytes]:
        self.complete = True
        out: list[bytes] = []
        if self.include_usage:
            out.append(openai_sse({**self._envelope([]), "usage": openai_usage(self.usage)}))
        out.append(OPENAI_DONE)
        return out

    def _error(self, data: JSON) -> list[bytes]:
        self.failed = True
        error = data.get("error") or {}
        message = str(error.get("message") or "upstream error")
        kind = str(error.get("type") or "upstream_error")
        return [openai_error_sse(message, kind)]


def _index(data: JSON) -> int:
    value: Any = data.get("index")
    return value if isinstance(value, int) else -1


_HANDLERS = {
    "message_start": AnthropicToOpenAIStream._message_start,
    "content_block_start": AnthropicToOpenAIStream._block_start,
    "content_block_delta": AnthropicToOpenAIStream._block_delta,
    "message_delta": AnthropicToOpenAIStream._message_delta,
    "message_stop": AnthropicToOpenAIStream._message_stop,
    "error": AnthropicToOpenAIStream._error,
}
