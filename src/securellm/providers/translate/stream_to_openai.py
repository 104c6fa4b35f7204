"""Anthropic's SSE event sequence -> OpenAI ``chat.completion.chunk`` events."""

from __future__ import annotations

from typing import Any

from securellm.providers.base import Usage
from securellm.providers.translate.common import (
    JSON,
    OPENAI_DONE,
    Unreadable,
    count,
    error_kind,
    error_message,
    finish_reason,
    index_of,
    new_id,
    now,
    obj,
    openai_error_end,
    openai_sse,
    openai_usage,
    opt_text,
    usage_from_anthropic,
)


class AnthropicToOpenAIStream:
    """Feed each Anthropic event (its ``type`` and data); get the OpenAI events to send.

    ``usage`` holds the counts seen so far (input from ``message_start``, output from the
    cumulative ``message_delta``); ``complete`` turns True at ``message_stop``. An
    ``error`` event, or an event with a field of the wrong type, ends the stream with
    OpenAI's error object and ``[DONE]`` (``failure`` says why); nothing follows it.
    """

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.usage = Usage()
        self.complete = False
        self.failure: str | None = None
        self._id = new_id("chatcmpl-")
        self._created = now()
        self._tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool index

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def feed(self, data: Any) -> list[bytes]:
        """The chunks for one upstream event (any JSON value: a malformed one fails)."""
        if self.complete or self.failed:
            return []
        try:
            event = obj(data, "the event")
            handler = _HANDLERS.get(str(event.get("type")))
            return handler(self, event) if handler is not None else []
        except Unreadable as exc:
            return self.fail(exc.message)

    def fail(self, message: str, error_type: str = "upstream_error") -> list[bytes]:
        """End the stream with OpenAI's error object and ``[DONE]``."""
        if self.failed or self.complete:
            return []
        self.failure = message
        return openai_error_end(message, error_type)

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
        message = obj(data.get("message"), "message")
        message_id = opt_text(message.get("id"), "message.id")
        if message_id:
            self._id = f"chatcmpl-{message_id}"
        self.usage = usage_from_anthropic(obj(message.get("usage"), "message.usage"))
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, data: JSON) -> list[bytes]:
        block = obj(data.get("content_block"), "content_block")
        kind = block.get("type")
        if kind == "text":
            text = opt_text(block.get("text"), "content_block.text")
            return [self._chunk({"content": text})] if text else []
        if kind != "tool_use":
            return []
        position = len(self._tool_index)
        head = {
            "index": position,
            "id": opt_text(block.get("id"), "content_block.id"),
            "type": "function",
            "function": {
                "name": opt_text(block.get("name"), "content_block.name"),
                "arguments": "",
            },
        }
        self._tool_index[index_of(data.get("index"), "index", -1)] = position
        return [self._chunk({"tool_calls": [head]})]

    def _block_delta(self, data: JSON) -> list[bytes]:
        delta = obj(data.get("delta"), "delta")
        kind = delta.get("type")
        field = _DELTA_FIELDS.get(str(kind))
        if field is None:
            return []
        value = opt_text(delta.get(field), f"delta.{field}")
        if not value:
            return []
        if kind == "text_delta":
            return [self._chunk({"content": value})]
        if kind == "thinking_delta":
            return [self._chunk({"reasoning_content": value})]
        position = self._tool_index.get(index_of(data.get("index"), "index", -1))
        if position is None:
            return []
        piece = {"index": position, "function": {"arguments": value}}
        return [self._chunk({"tool_calls": [piece]})]

    def _message_delta(self, data: JSON) -> list[bytes]:
        usage = obj(data.get("usage"), "usage")
        if usage.get("input_tokens") is not None:
            self.usage = usage_from_anthropic({**usage, "output_tokens": 0})
        self.usage.completion_tokens = count(usage.get("output_tokens"))
        reason = obj(data.get("delta"), "delta").get("stop_reason")
        return [self._chunk({}, finish_reason(reason))]

    def _message_stop(self, _data: JSON) -> list[bytes]:
        self.complete = True
        out: list[bytes] = []
        if self.include_usage:
            out.append(openai_sse({**self._envelope([]), "usage": openai_usage(self.usage)}))
        out.append(OPENAI_DONE)
        return out

    def _error(self, data: JSON) -> list[bytes]:
        error = data.get("error")
        return self.fail(error_message(error), error_kind(error, "upstream_error"))


_DELTA_FIELDS = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}

_HANDLERS = {
    "message_start": AnthropicToOpenAIStream._message_start,
    "content_block_start": AnthropicToOpenAIStream._block_start,
    "content_block_delta": AnthropicToOpenAIStream._block_delta,
    "message_delta": AnthropicToOpenAIStream._message_delta,
    "message_stop": AnthropicToOpenAIStream._message_stop,
    "error": AnthropicToOpenAIStream._error,
}
