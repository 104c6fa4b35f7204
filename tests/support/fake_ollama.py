"""An upstream that replays Ollama's documented native API (``/api/*``) byte for byte.

Streams are NDJSON (``application/x-ndjson``), one JSON object a line, the last one with
``done: true``, ``done_reason`` and the counters. Behaviour is chosen by the model name:

- ``llama-echo``: repeats the last user text (streamed word by word).
- ``llama-tools``: answers with two tool calls, whole, in one chunk (as Ollama does).
- ``llama-error-mid``: a first chunk, then an ``{"error": ...}`` line.
- ``llama-malformed``: a first chunk, then a line whose ``message`` is a number; whole, a
  reply whose ``message`` is a string.
- an unknown model: 404 ``{"error": "model '...' not found"}``.
Every request is recorded (path, body).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

MODELS = [
    "llama-echo:latest",
    "llama-tools:latest",
    "llama-error-mid:latest",
    "llama-malformed:latest",
    "nomic-embed:latest",
]
CREATED_AT = "2025-10-26T17:15:24.097767Z"
PROMPT_EVAL_COUNT = 26
TOOL_CALLS = [("get_weather", {"city": "Tokyo"}), ("get_time", {"timezone": "Asia/Tokyo"})]
VECTOR = [0.010071029, -0.0017594862, 0.05007221, 0.04692972]


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]


def _line(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status, media_type="application/json")


def _model(name: str) -> str:
    return name if ":" in name else f"{name}:latest"


@dataclass
class FakeOllama:
    requests: list[Recorded] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/tags", self.tags, methods=["GET"]),
                Route("/api/ps", self.ps, methods=["GET"]),
                Route("/api/chat", self.chat, methods=["POST"]),
                Route("/api/generate", self.generate, methods=["POST"]),
                Route("/api/embed", self.embed, methods=["POST"]),
            ]
        )

    async def tags(self, _request: Request) -> Response:
        models = [
            {
                "name": m,
                "model": m,
                "modified_at": CREATED_AT,
                "size": 3825819519,
                "digest": "fe938a131f40e6f6d40083c9f0f430a515233eb2edaa6d72eb85c50d64f2300e",
                "details": {
                    "format": "gguf",
                    "family": "llama",
                    "parameter_size": "7B",
                    "quantization_level": "Q4_0",
                },
            }
            for m in MODELS
        ]
        return _json({"models": models})

    async def ps(self, _request: Request) -> Response:
        running = {
            "name": MODELS[0],
            "model": MODELS[0],
            "size": 5137025024,
            "size_vram": 5137025024,
            "expires_at": "2099-01-01T00:00:00Z",
        }
        return _json({"models": [running]})

    async def _record(self, request: Request) -> dict[str, Any] | Response:
        body: dict[str, Any] = json.loads(await request.body())
        self.requests.append(Recorded(request.url.path, body))
        if _model(body["model"]) not in MODELS:
            return _json({"error": f"model '{body['model']}' not found"}, 404)
        return body

    async def chat(self, request: Request) -> Response:
        body = await self._record(request)
        if isinstance(body, Response):
            return body
        if body.get("stream", True):
            return StreamingResponse(chat_lines(body), media_type="application/x-ndjson")
        return _json(chat_reply(body))

    async def generate(self, request: Request) -> Response:
        body = await self._record(request)
        if isinstance(body, Response):
            return body
        words = [w + " " for w in f"continued: {body['prompt']}".split()]
        if body.get("stream", True):
            lines = [_line(_head(body) | {"response": w, "done": False}) for w in words]
            final = _head(body) | {"response": "", **_done(len(words))}
            return StreamingResponse(
                iter([*lines, _line(final)]), media_type="application/x-ndjson"
            )
        return _json(_head(body) | {"response": "".join(words), **_done(len(words))})

    async def embed(self, request: Request) -> Response:
        body = await self._record(request)
        if isinstance(body, Response):
            return body
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = [[v * (i + 1) for v in VECTOR] for i in range(len(inputs))]
        return _json(
            {
                "model": body["model"],
                "embeddings": vectors,
                "total_duration": 14143917,
                "load_duration": 1019500,
                "prompt_eval_count": 8 * len(inputs),
            }
        )


def _head(body: dict[str, Any]) -> dict[str, Any]:
    return {"model": body["model"], "created_at": CREATED_AT}


def _done(eval_count: int, reason: str = "stop") -> dict[str, Any]:
    return {
        "done": True,
        "done_reason": reason,
        "total_duration": 4883583458,
        "load_duration": 1334875,
        "prompt_eval_count": PROMPT_EVAL_COUNT,
        "prompt_eval_duration": 342546000,
        "eval_count": eval_count,
        "eval_duration": 4535599000,
    }


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if message["role"] in ("user", "tool"):
            return str(message["content"])
    return ""


def _calls() -> list[dict[str, Any]]:
    return [{"function": {"name": name, "arguments": args}} for name, args in TOOL_CALLS]


def chat_reply(body: dict[str, Any]) -> dict[str, Any]:
    message: Any = {"role": "assistant", "content": last_user_text(body)}
    if _model(body["model"]) == "llama-tools:latest":
        message = {"role": "assistant", "content": "", "tool_calls": _calls()}
    if _model(body["model"]) == "llama-malformed:latest":
        message = "not an object"
    return _head(body) | {"message": message, **_done(12)}


def chat_lines(body: dict[str, Any]) -> Iterator[bytes]:
    model = _model(body["model"])
    if model == "llama-tools:latest":
        message = {"role": "assistant", "content": "", "tool_calls": _calls()}
        yield _line(_head(body) | {"message": message, "done": False})
        yield _line(_head(body) | {"message": {"role": "assistant", "content": ""}, **_done(20)})
        return
    words = [w + " " for w in last_user_text(body).split()]
    for count, word in enumerate(words, start=1):
        yield _line(
            _head(body) | {"message": {"role": "assistant", "content": word}, "done": False}
        )
        if model == "llama-error-mid" + ":latest" and count == 1:
            yield _line({"error": "an error was encountered while running the model"})
            return
        if model == "llama-malformed:latest" and count == 1:
            yield _line(_head(body) | {"message": 5, "done": False})
    final = _head(body) | {"message": {"role": "assistant", "content": ""}, **_done(len(words))}
    yield _line(final)
