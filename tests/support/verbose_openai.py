"""An OpenAI chat upstream whose model always has more to say, for exact budget tests.

Like a real model asked for a long answer, it writes ``OUTPUT_TOKENS`` tokens, or stops at
the request's ``max_completion_tokens``/``max_tokens`` (``finish_reason: "length"``). The
wire format is OpenAI's documented one: a ``chat.completion`` with ``usage``, or SSE chunks
ending in a usage chunk (when ``stream_options.include_usage``) and ``[DONE]``. The prompt
counts one token per word. Model ``silent`` answers without a ``usage`` object. Every
request body is recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

OUTPUT_TOKENS = 500
CREATED = 1_700_000_000


@dataclass
class VerboseOpenAI:
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
            ]
        )

    async def models(self, _request: Request) -> Response:
        data = [
            {"id": m, "object": "model", "created": CREATED, "owned_by": "verbose"}
            for m in ("long", "silent", "gpt-4o-mini")
        ]
        return Response(orjson.dumps({"object": "list", "data": data}))

    async def chat(self, request: Request) -> Response:
        body: dict[str, Any] = orjson.loads(await request.body())
        self.bodies.append(body)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        written = min(OUTPUT_TOKENS, limit) if isinstance(limit, int) else OUTPUT_TOKENS
        finish = "length" if written < OUTPUT_TOKENS else "stop"
        prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": written,
            "total_tokens": prompt + written,
        }
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _events(body["model"], written, finish, usage if include else None)
            return StreamingResponse(events, media_type="text/event-stream")
        message = {"role": "assistant", "content": " ".join(["word"] * written)}
        answer: dict[str, Any] = {
            "id": "chatcmpl-verbose",
            "object": "chat.completion",
            "created": CREATED,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        if body["model"] != "silent":
            answer["usage"] = usage
        return Response(orjson.dumps(answer), media_type="application/json")


def _chunk(model: str, choices: list[dict[str, Any]], **extra: Any) -> bytes:
    chunk = {
        "id": "chatcmpl-verbose",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "choices": choices,
        **extra,
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def _events(
    model: str, written: int, finish: str, usage: dict[str, int] | None
) -> AsyncIterator[bytes]:
    for _ in range(written):
        yield _chunk(model, [{"index": 0, "delta": {"content": "word "}, "finish_reason": None}])
    yield _chunk(model, [{"index": 0, "delta": {}, "finish_reason": finish}])
    if usage is not None:
        yield _chunk(model, [], usage=usage)
    yield b"data: [DONE]\n\n"
