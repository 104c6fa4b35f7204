"""An OpenAI-dialect upstream that misbehaves on cue, for the resilience tests.

``script(model, ["500", "429", "ok"])`` makes the next requests for ``model`` fail in that
order; when the script runs out, requests succeed. Faults:
``500`` / ``503`` / ``502`` (OpenAI error bodies), ``429`` (with ``Retry-After: 1``),
``429-long`` (``Retry-After: 30``), ``context`` (400 context-length error), ``stall``
(sleeps ``STALL_S`` before answering), ``reset`` (streams two chunks, then drops the
connection), ``cut`` (streams two chunks, then ends the response cleanly with no
``finish_reason`` and no ``[DONE]``), ``slow-stream`` (ten chunks, 0.2 s apart),
``503-wait`` (503 with ``Retry-After: 3``), ``redirect`` (307 to ``redirect_to``),
``malformed`` (a reply, or a stream's second event, whose ``choices`` is a number).
``redirect_models`` set makes ``GET /v1/models`` answer 307 to it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

STALL_S = 5.0
ERRORS = {
    "500": (500, "server_error", "The server had an error while processing your request."),
    "502": (502, "server_error", "Bad gateway."),
    "503": (503, "server_error", "The engine is currently overloaded."),
    "503-wait": (503, "server_error", "The engine is currently overloaded."),
    "context": (
        400,
        "invalid_request_error",
        "This model's maximum context length is 8 tokens. Please reduce the length.",
    ),
}


class MidStreamReset(Exception):
    """Raised inside a streaming body: uvicorn drops the connection without a last chunk."""


@dataclass
class FaultyUpstream:
    scripts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    redirect_to: str = ""
    redirect_models: str = ""

    def script(self, model: str, faults: list[str]) -> None:
        self.scripts[model] = list(faults)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
            ]
        )

    async def models(self, _request: Request) -> Response:
        if self.redirect_models:
            return Response(status_code=307, headers={"location": self.redirect_models})
        names = ["echo", "other", "slow-stream"]
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "faulty"} for n in names]
        return Response(
            orjson.dumps({"object": "list", "data": data}), media_type="application/json"
        )

    async def chat(self, request: Request) -> Response:
        body: dict[str, Any] = orjson.loads(await request.body())
        model = body["model"]
        self.calls[model] += 1
        fault = self.scripts[model].pop(0) if self.scripts[model] else "ok"
        if fault in ERRORS:
            status, kind, message = ERRORS[fault]
            wait = {"retry-after": "3"} if fault == "503-wait" else None
            return _error(status, kind, message, wait)
        if fault == "redirect":
            return Response(status_code=307, headers={"location": self.redirect_to})
        if fault == "malformed" and not body.get("stream"):
            return Response(b'{"choices": 5}', media_type="application/json")
        if fault in ("429", "429-long"):
            wait = "1" if fault == "429" else "30"
            return _error(429, "rate_limit_exceeded", "Rate limit reached.", {"retry-after": wait})
        if fault == "stall":
            await asyncio.sleep(STALL_S)
        if body.get("stream"):
            return StreamingResponse(_events(model, fault), media_type="text/event-stream")
        return Response(orjson.dumps(_completion(model)), media_type="application/json")


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


def _completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-faulty",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": f"answer from {model}"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
    }


def _chunk(model: str, content: str, finish: str | None = None) -> bytes:
    delta = {"content": content} if content else {}
    chunk = {
        "id": "chatcmpl-faulty",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def _events(model: str, fault: str) -> AsyncIterator[bytes]:
    count = 10 if model == "slow-stream" else 3
    for index in range(count):
        if fault == "reset" and index == 2:
            raise MidStreamReset("connection dropped on purpose")
        if fault == "cut" and index == 2:
            return
        if fault == "malformed" and index == 1:
            yield b'data: {"choices": 5}\n\n'
            continue
        if model == "slow-stream":
            await asyncio.sleep(0.2)
        yield _chunk(model, f"part{index} ")
    yield _chunk(model, "", "stop")
    usage = {"prompt_tokens": 3, "completion_tokens": count, "total_tokens": 3 + count}
    last = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model}
    yield b"data: " + orjson.dumps({**last, "choices": [], "usage": usage}) + b"\n\n"
    yield b"data: [DONE]\n\n"
