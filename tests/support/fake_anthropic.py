"""An upstream that replays Anthropic's documented Messages API wire format byte for byte.

The SSE sequences below follow the event reference of the Messages streaming API
(``event:`` line, ``data:`` line, blank line; JSON written with ``", "`` and ``": "``
separators as in the reference's examples). Behaviour is chosen by the model name:

- ``claude-echo``: text answer repeating the last user text (streamed word by word).
- ``claude-tools``: a text block, then two parallel ``tool_use`` blocks whose input
  arrives as ``input_json_delta`` pieces (the first one empty, as documented).
- ``claude-empty``: an empty text block (start and stop, no delta) before a tool call.
- ``claude-thinking``: a thinking block (thinking_delta, signature_delta) then text.
- ``claude-error-mid``: some text, then an ``error`` event (overloaded) mid-stream.
- ``claude-malformed``: some text, then a ``message_delta`` whose ``usage`` is a number
  (an event no client can read); whole, a reply whose ``content`` is a string.
- ``claude-slow``: text with a pause between deltas (for client disconnects).
- ``claude-overloaded``: HTTP 529; ``claude-rate-limited``: HTTP 429 with retry-after.
Every request is recorded (path, headers, body).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

MODELS = [
    "claude-echo",
    "claude-tools",
    "claude-empty",
    "claude-thinking",
    "claude-error-mid",
    "claude-malformed",
    "claude-slow",
    "claude-overloaded",
    "claude-rate-limited",
]
INPUT_TOKENS = 25
TOOL_USES = [
    (
        "toolu_01A09q90qw90lq917835lq9",
        "get_weather",
        '{"location": "San Francisco, CA", "unit": "celsius"}',
    ),
    ("toolu_01B19r91rx91mr918836mr0", "get_time", '{"timezone": "America/Los_Angeles"}'),
]
THINKING = "Let me think about the question first."
SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
SLOW_DELTA_S = 0.3


def _dumps(data: Any) -> str:
    """JSON as the reference's examples print it."""
    return json.dumps(data, separators=(", ", ": "))


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {_dumps(data)}\n\n".encode()


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeAnthropic:
    requests: list[Recorded] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)  # models whose stream was cut off

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/messages", self.messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self.count_tokens, methods=["POST"]),
            ]
        )

    async def models(self, _request: Request) -> Response:
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-05-22T00:00:00Z"}
            for m in MODELS
        ]
        body = {"data": data, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]}
        return _json(body)

    async def _record(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(await request.body())
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        return body

    async def _events(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        finished = False
        try:
            for event in stream_events(body):
                if body["model"] == "claude-slow" and b"text_delta" in event:
                    await asyncio.sleep(SLOW_DELTA_S)
                yield event
            finished = True
        finally:
            if not finished:
                self.abandoned.append(body["model"])

    async def count_tokens(self, request: Request) -> Response:
        body = await self._record(request)
        return _json({"input_tokens": len(_dumps(body["messages"])) // 4})

    async def messages(self, request: Request) -> Response:
        body = await self._record(request)
        denied = _auth_failure(request)
        if denied is not None:
            return denied
        model = body["model"]
        if model == "claude-overloaded":
            return _error(529, "overloaded_error", "Overloaded")
        if model == "claude-rate-limited":
            headers = {"retry-after": "11"}
            return _error(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
                headers,
            )
        if body.get("stream"):
            return StreamingResponse(
                self._events(body), media_type="text/event-stream; charset=utf-8"
            )
        if model == "claude-malformed":
            return _json({**_message(body), "content": "not a list of blocks"})
        return _json(_message(body))


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(data), status, headers=headers, media_type="application/json")


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"type": "error", "error": {"type": kind, "message": message}}, status, headers)


def _auth_failure(request: Request) -> Response | None:
    if not request.headers.get("x-api-key"):
        return _error(401, "authentication_error", "x-api-key header is required")
    if request.headers.get("anthropic-version") != "2023-06-01":
        return _error(400, "invalid_request_error", "anthropic-version header is required")
    return None


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content if b.get("type") == "text"]
        results = [_dumps(b.get("content")) for b in content if b.get("type") == "tool_result"]
        return " ".join(texts + results)
    return ""


def _usage(output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": INPUT_TOKENS,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def _message(body: dict[str, Any]) -> dict[str, Any]:
    model = body["model"]
    content: list[dict[str, Any]] = []
    stop = "end_turn"
    if model in ("claude-tools", "claude-empty"):
        if model == "claude-tools":
            content.append({"type": "text", "text": "I'll check both."})
        for tool_id, name, args in TOOL_USES:
            content.append(
                {"type": "tool_use", "id": tool_id, "name": name, "input": json.loads(args)}
            )
        stop = "tool_use"
    elif model == "claude-thinking":
        content.append({"type": "thinking", "thinking": THINKING, "signature": SIGNATURE})
        content.append({"type": "text", "text": "Paris."})
    else:
        content.append({"type": "text", "text": last_user_text(body)})
    return {
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": _usage(12),
    }


def _start(model: str) -> bytes:
    message = {
        "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1},
    }
    return sse("message_start", {"type": "message_start", "message": message})


def _block_start(index: int, block: dict[str, Any]) -> bytes:
    return sse(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return sse(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    )


def _block_stop(index: int) -> bytes:
    return sse("content_block_stop", {"type": "content_block_stop", "index": index})


def _end(stop_reason: str, output_tokens: int) -> list[bytes]:
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }
    return [sse("message_delta", delta), sse("message_stop", {"type": "message_stop"})]


def _text_block(index: int, words: list[str]) -> list[bytes]:
    events = [_block_start(index, {"type": "text", "text": ""})]
    events += [_delta(index, {"type": "text_delta", "text": w}) for w in words]
    return [*events, _block_stop(index)]


def _tool_block(index: int, tool_id: str, name: str, args: str) -> list[bytes]:
    events = [_block_start(index, {"type": "tool_use", "id": tool_id, "name": name, "input": {}})]
    pieces = [""] + [args[i : i + 12] for i in range(0, len(args), 12)]
    events += [_delta(index, {"type": "input_json_delta", "partial_json": p}) for p in pieces]
    return [*events, _block_stop(index)]


def stream_events(body: dict[str, Any]) -> list[bytes]:
    """The whole documented event sequence for ``body`` (before any pacing)."""
    model = body["model"]
    ping = sse("ping", {"type": "ping"})
    if model in ("claude-tools", "claude-empty"):
        first = ["I'll", " check", " both."] if model == "claude-tools" else []
        events = [_start(model), *_text_block(0, first), ping]
        for offset, (tool_id, name, args) in enumerate(TOOL_USES, start=1):
            events += _tool_block(offset, tool_id, name, args)
        return [*events, *_end("tool_use", 89)]
    if model == "claude-thinking":
        thinking = [
            _block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
            _delta(0, {"type": "thinking_delta", "thinking": THINKING}),
            _delta(0, {"type": "signature_delta", "signature": SIGNATURE}),
            _block_stop(0),
        ]
        return [_start(model), *thinking, *_text_block(1, ["Paris", "."]), *_end("end_turn", 30)]
    words = [w + " " for w in last_user_text(body).split()] or [""]
    if model == "claude-error-mid":
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        head = [
            _block_start(0, {"type": "text", "text": ""}),
            _delta(0, {"type": "text_delta", "text": words[0]}),
        ]
        return [_start(model), ping, *head, sse("error", error)]
    if model == "claude-malformed":
        broken = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": 5}
        return [_start(model), *_text_block(0, words), sse("message_delta", broken)]
    return [
        _start(model),
        _block_start(0, {"type": "text", "text": ""}),
        ping,
        *_text_block(0, words)[1:],
        *_end("end_turn", len(words)),
    ]
