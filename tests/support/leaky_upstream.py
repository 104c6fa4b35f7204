"""An upstream that quotes the credential it was sent back in its errors, in every dialect.

It answers the OpenAI (``/v1/chat/completions``), Anthropic (``/v1/messages``) and Ollama
(``/api/chat``) APIs with each one's documented error shape, and quotes the key it got
(``Authorization: Bearer <key>`` or ``x-api-key: <key>``) the way real servers do. The
model name picks how:

- ``whole-4xx``: HTTP 400 whose message quotes the key whole (OpenAI-compatible servers
  and proxies do);
- ``masked-4xx``: HTTP 401 with OpenAI's wrong-key message, the key masked as OpenAI
  prints it (``sk-proj-********************abcd``);
- ``bearer-4xx``: HTTP 400 quoting the credential header as received (``Bearer <key>``);
- ``error-in-200``: status 200 with an error in it: a JSON error body, or for a stream a
  few content events then the dialect's error event (OpenAI ``data: {"error": ...}``,
  Anthropic ``event: error``, an Ollama ``{"error": ...}`` line) quoting the key whole,
  masked (both styles) and as ``Bearer <key>``.

Model discovery (``GET /v1/models``, ``/api/tags``) answers 401 with the masked key in
the dialect's error shape. ``seen`` records each credential received, so a test can
check the key did go upstream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

MODELS = ["whole-4xx", "masked-4xx", "bearer-4xx", "error-in-200"]


def starred(key: str) -> str:
    """OpenAI's masked form: the first characters, asterisks, the last four."""
    return key[:8] + "*" * 20 + key[-4:]


def dotted(key: str) -> str:
    """A proxy's masked form: ``sk-...abcd``."""
    return key[:3] + "..." + key[-4:]


def leaked_forms(key: str) -> list[str]:
    """Every form of ``key`` this upstream prints: none may reach a client, log or file."""
    return [key, starred(key), dotted(key)]


def _credential(request: Request) -> tuple[str, str]:
    """(the key alone, the header as received)."""
    if "x-api-key" in request.headers:
        key = request.headers["x-api-key"]
        return key, f"x-api-key: {key}"
    header = request.headers.get("authorization", "")
    return header.removeprefix("Bearer "), header


def _message(model: str, key: str, header: str) -> str:
    if model == "whole-4xx":
        return f"Incorrect API key provided: {key}."
    if model == "masked-4xx":
        return (
            f"Incorrect API key provided: {starred(key)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
    if model == "bearer-4xx":
        return f"invalid credentials in header {header}"
    return f"key {key} ({starred(key)}, {dotted(key)}) was refused; got {header}"


@dataclass(frozen=True)
class Dialect:
    """How one API writes an error body, a content event and an error event."""

    error_body: Callable[[str], dict[str, Any]]
    content_event: Callable[[str], bytes]
    error_event: Callable[[str], bytes]
    media_type: str


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def _openai_chunk(text: str) -> bytes:
    delta = {"role": "assistant", "content": text}
    chunk = {
        "id": "chatcmpl-leaky",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "leaky",
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }
    return _sse(chunk)


def _anthropic_start(text: str) -> bytes:
    message = {
        "id": "msg_leaky",
        "type": "message",
        "role": "assistant",
        "model": "leaky",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    start = _sse({"type": "message_start", "message": message}, "message_start")
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": text},
    }
    return start + _sse(block, "content_block_start") + _sse(delta, "content_block_delta")


def _ollama_line(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode() + b"\n"


OPENAI = Dialect(
    error_body=lambda m: {
        "error": {
            "message": m,
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    },
    content_event=_openai_chunk,
    error_event=lambda m: _sse(
        {"error": {"message": m, "type": "server_error", "param": None, "code": None}}
    ),
    media_type="text/event-stream",
)
ANTHROPIC = Dialect(
    error_body=lambda m: {"type": "error", "error": {"type": "authentication_error", "message": m}},
    content_event=_anthropic_start,
    error_event=lambda m: _sse(
        {"type": "error", "error": {"type": "api_error", "message": m}}, "error"
    ),
    media_type="text/event-stream",
)
OLLAMA = Dialect(
    error_body=lambda m: {"error": m},
    content_event=lambda t: _ollama_line(
        {"model": "leaky", "message": {"role": "assistant", "content": t}, "done": False}
    ),
    error_event=lambda m: _ollama_line({"error": m}),
    media_type="application/x-ndjson",
)


@dataclass
class LeakyUpstream:
    seen: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._handler(OPENAI), methods=["POST"]),
                Route("/v1/messages", self._handler(ANTHROPIC), methods=["POST"]),
                Route("/api/chat", self._handler(OLLAMA), methods=["POST"]),
                Route("/v1/models", self._discovery(OPENAI), methods=["GET"]),
                Route("/api/tags", self._discovery(OLLAMA), methods=["GET"]),
            ]
        )

    def _handler(self, dialect: Dialect) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            body = json.loads(await request.body())
            key, header = _credential(request)
            self.seen.append(key)
            model = body.get("model", "")
            message = _message(model, key, header)
            if model != "error-in-200":
                status = 401 if model == "masked-4xx" else 400
                return _json(dialect.error_body(message), status)
            if not body.get("stream"):
                return _json(dialect.error_body(message), 200)
            return StreamingResponse(_stream(dialect, message), media_type=dialect.media_type)

        return handle

    def _discovery(self, dialect: Dialect) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            key, header = _credential(request)
            self.seen.append(key)
            shape = ANTHROPIC if "anthropic-version" in request.headers else dialect
            return _json(shape.error_body(_message("masked-4xx", key, header)), 401)

        return handle


async def _stream(dialect: Dialect, message: str) -> AsyncIterator[bytes]:
    yield dialect.content_event("partial answer ")
    yield dialect.error_event(message)


def _json(data: Any, status: int) -> Response:
    return Response(json.dumps(data), status, media_type="application/json")
