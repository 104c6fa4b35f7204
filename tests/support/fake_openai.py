"""An upstream that speaks OpenAI's documented wire format, for what a 270M model cannot show.

Behaviour is chosen by the model name:
- ``echo``: answers with the last user message; streams it word by word.
- ``tools``: answers with two parallel tool calls (arguments streamed in pieces).
- ``error-500`` / ``error-400`` / ``rate-limited`` (429 + Retry-After): error bodies.
- ``slow``: waits ``SLOW_S`` seconds before answering.
- ``no-usage``: streams without a usage chunk even when asked.
Every request is recorded (path, headers, body) for assertions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

MODELS = ["echo", "tools", "error-500", "error-400", "rate-limited", "slow", "no-usage"]
SLOW_S = 3.0
CREATED = 1_700_000_000
TOOL_CALLS = [
    ("call_weather_1", "get_weather", '{"city": "Lisboa", "unit": "celsius"}'),
    ("call_time_2", "get_time", '{"timezone": "Europe/Lisbon"}'),
]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    requests: list[Recorded] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/completions", self.completions, methods=["POST"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            ]
        )

    async def models(self, _request: Request) -> Response:
        data = [
            {"id": m, "object": "model", "created": CREATED, "owned_by": "fake"} for m in MODELS
        ]
        return _json({"object": "list", "data": data})

    async def _record(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = orjson.loads(await request.body())
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        return body

    async def chat(self, request: Request) -> Response:
        body = await self._record(request)
        model = body["model"]
        failure = await _failure(model)
        if failure is not None:
            return failure
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            if model == "no-usage":
                include_usage = False
            events = _chat_events(body, prompt_tokens, include_usage)
            return StreamingResponse(events, media_type="text/event-stream; charset=utf-8")
        return _json(_chat_completion(body, prompt_tokens))

    async def completions(self, request: Request) -> Response:
        body = await self._record(request)
        text = f"completion of: {body['prompt']}"
        usage = _usage(len(str(body["prompt"]).split()), len(text.split()))
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}
        return _json(
            {
                "id": "cmpl-fake",
                "object": "text_completion",
                "created": CREATED,
                "model": body["model"],
                "choices": [choice],
                "usage": usage,
            }
        )

    async def embeddings(self, request: Request) -> Response:
        body = await self._record(request)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [0.1 * (i + 1), 0.2, 0.3]}
            for i, _ in enumerate(inputs)
        ]
        return _json(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
            }
        )


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers=headers, media_type="application/json")


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return _json(body, status, headers)


async def _failure(model: str) -> Response | None:
    if model == "error-500":
        return _error(500, "The server had an error while processing your request.", "server_error")
    if model == "error-400":
        return _error(400, "Invalid value for 'temperature'.", "invalid_request_error")
    if model == "rate-limited":
        return _error(429, "Rate limit reached.", "rate_limit_exceeded", {"retry-after": "7"})
    if model == "slow":
        await asyncio.sleep(SLOW_S)
    return None


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else orjson.dumps(content).decode()
    return ""


def _chat_completion(body: dict[str, Any], prompt_tokens: int) -> dict[str, Any]:
    if body["model"] == "tools":
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in TOOL_CALLS
            ],
        }
        finish, completion_tokens = "tool_calls", 20
    else:
        text = _last_user_text(body)
        message = {"role": "assistant", "content": text}
        finish, completion_tokens = "stop", len(text.split())
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": CREATED,
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(prompt_tokens, completion_tokens),
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def _chat_events(
    body: dict[str, Any], prompt_tokens: int, include_usage: bool
) -> AsyncIterator[bytes]:
    model = body["model"]
    completion_tokens = 0
    if model == "tools":
        for index, (cid, name, args) in enumerate(TOOL_CALLS):
            head = {"index": index, "id": cid, "type": "function",
                    "function": {"name": name, "arguments": ""}}  # fmt: skip
            yield _chunk(model, {"role": "assistant", "content": None, "tool_calls": [head]})
            for start in range(0, len(args), 8):
                piece = {"index": index, "function": {"arguments": args[start : start + 8]}}
                yield _chunk(model, {"tool_calls": [piece]})
                completion_tokens += 1
        yield _chunk(model, {}, "tool_calls")
    else:
        yield _chunk(model, {"role": "assistant", "content": ""})
        for word in _last_user_text(body).split():
            yield _chunk(model, {"content": word + " "})
            completion_tokens += 1
        yield _chunk(model, {}, "stop")
    if include_usage:
        usage_chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [],
            "usage": _usage(prompt_tokens, completion_tokens),
        }
        yield b"data: " + orjson.dumps(usage_chunk) + b"\n\n"
    yield b"data: [DONE]\n\n"
