"""OpenAI ``chat.completion.chunk`` events -> Anthropic's SSE event sequence."""

from __future__ import annotations

from typing import Any

from securellm.providers.base import Usage
from securellm.providers.translate.common import (
    JSON,
    Unreadable,
    anthropic_error_sse,
    anthropic_sse,
    anthropic_usage,
    error_message,
    index_of,
    new_id,
    obj,
    objects,
    opt_text,
    stop_reason,
    usage_from_openai,
)


class OpenAIToAnthropicStream:
    """Feed each OpenAI chunk (parsed); get the Anthropic events to send.

    Blocks open and close in order: a text or thinking block closes when the upstream
    moves on to another kind of content or another tool call. ``finish`` closes the
    message once the upstream's ``[DONE]`` (or the end of its stream) arrives. An error
    chunk, or a chunk with a field of the wrong type, ends the message with an ``error``
    event (``failure`` says why); nothing is sent after it.
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.usage = Usage()
        self.complete = False
        self.failure: str | None = None
        self._started = False
        self._open: tuple[str, int] | None = None  # (kind or "tool:<n>", block index)
        self._blocks = 0
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool index -> block index
        self._stop: str | None = None

    def start(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        message: JSON = {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [
            anthropic_sse("message_start", {"type": "message_start", "message": message}),
            anthropic_sse("ping", {"type": "ping"}),
        ]

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def feed(self, chunk: Any) -> list[bytes]:
        """The events for one upstream chunk (any JSON value: a malformed one fails)."""
        if self.complete or self.failed:
            return []
        out: list[bytes] = []
        try:
            self._feed(obj(chunk, "the chunk"), out)
        except Unreadable as exc:
            out.extend(self.fail(exc.message))
        return out

    def _feed(self, chunk: JSON, out: list[bytes]) -> None:
        if chunk.get("error") is not None:
            out.extend(self.fail(error_message(chunk["error"])))
            return
        out.extend(self.start())
        if chunk.get("usage"):
            self.usage = usage_from_openai(obj(chunk["usage"], "usage"))
        for choice in objects(chunk.get("choices"), "choices"):
            self._choice(choice, out)

    def _choice(self, choice: JSON, out: list[bytes]) -> None:
        delta = obj(choice.get("delta"), "choices[].delta")
        reasoning = opt_text(delta.get("reasoning_content"), "delta.reasoning_content")
        if reasoning:
            out.extend(self._text("thinking", reasoning))
        content = opt_text(delta.get("content"), "delta.content")
        if content:
            out.extend(self._text("text", content))
        for call in objects(delta.get("tool_calls"), "delta.tool_calls"):
            out.extend(self._tool(call))
        if choice.get("finish_reason"):
            self._stop = stop_reason(choice["finish_reason"])

    def _text(self, kind: str, text: str) -> list[bytes]:
        out: list[bytes] = []
        if self._open is None or self._open[0] != kind:
            out.extend(self._close())
            block: JSON = {"type": "text", "text": ""}
            if kind == "thinking":
                block = {"type": "thinking", "thinking": "", "signature": ""}
            out.extend(self._open_block(kind, block))
        assert self._open is not None
        field = "text" if kind == "text" else "thinking"
        delta = {"type": f"{field}_delta", field: text}
        out.append(_delta(self._open[1], delta))
        return out

    def _tool(self, call: JSON) -> list[bytes]:
        out: list[bytes] = []
        position = index_of(call.get("index"), "tool_calls[].index")
        function = obj(call.get("function"), "tool_calls[].function")
        arguments = opt_text(function.get("arguments"), "function.arguments")
        if position not in self._tool_blocks:
            block: JSON = {
                "type": "tool_use",
                "id": opt_text(call.get("id"), "tool_calls[].id") or new_id("toolu_"),
                "name": opt_text(function.get("name"), "function.name") or "",
                "input": {},
            }
            out.extend(self._close())
            out.extend(self._open_block(f"tool:{position}", block))
            self._tool_blocks[position] = self._blocks - 1
        if arguments:
            delta = {"type": "input_json_delta", "partial_json": arguments}
            out.append(_delta(self._tool_blocks[position], delta))
        return out

    def _open_block(self, kind: str, block: JSON) -> list[bytes]:
        index = self._blocks
        self._blocks += 1
        self._open = (kind, index)
        payload = {"type": "content_block_start", "index": index, "content_block": block}
        return [anthropic_sse("content_block_start", payload)]

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        index = self._open[1]
        self._open = None
        return [anthropic_sse("content_block_stop", {"type": "content_block_stop", "index": index})]

    def finish(self) -> list[bytes]:
        """The upstream is done: close the last block and the message."""
        if self.complete or self.failed:
            return []
        out = self.start()
        out.extend(self._close())
        usage = anthropic_usage(self.usage)
        delta = {"stop_reason": self._stop or "end_turn", "stop_sequence": None}
        out.append(
            anthropic_sse(
                "message_delta", {"type": "message_delta", "delta": delta, "usage": usage}
            )
        )
        out.append(anthropic_sse("message_stop", {"type": "message_stop"}))
        self.complete = True
        return out

    def fail(self, message: str, error_type: str = "api_error") -> list[bytes]:
        """The upstream failed mid-stream: end with Anthropic's ``error`` event."""
        if self.failed or self.complete:
            return []
        self.failure = message
        return [anthropic_error_sse(message, error_type)]


def _delta(index: int, delta: JSON) -> bytes:
    payload = {"type": "content_block_delta", "index": index, "delta": delta}
    return anthropic_sse("content_block_delta", payload)
