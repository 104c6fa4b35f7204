"""An upstream that speaks OpenAI's Responses API wire format (``POST /v1/responses``).

Whole replies are a ``Response`` object; streams are ``event: <type>`` / ``data: <json>``
pairs, numbered from 0 by ``sequence_number``, with no ``[DONE]`` (the stream ends with
``response.completed``), as the API reference's streaming events document. Behaviour by
model name: ``echo`` repeats the last user text (streamed word by word); ``tools`` calls
``get_weather``; ``cut`` stops its stream after the first delta (no terminal event).
Every request is recorded (path, headers, body).
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

CREATED = 1_700_000_000
RESPONSE_ID = "resp_upstream0123456789abcdef0123456789"
CALL = ("call_weather_1", "get_weather", '{"city": "Lisboa"}')


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeResponses:
    requests: list[Recorded] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/responses", self.responses, methods=["POST"]),
            ]
        )

    async def models(self, _request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": CREATED, "owned_by": "openai"}
                for m in ("echo", "tools", "cut")]  # fmt: skip
        return Response(
            orjson.dumps({"object": "list", "data": data}), media_type="application/json"
        )

    async def responses(self, request: Request) -> Response:
        body: dict[str, Any] = orjson.loads(await request.body())
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        if body.get("stream"):
            return StreamingResponse(_events(body), media_type="text/event-stream; charset=utf-8")
        response = _response(body, "completed", _output(body))
        return Response(orjson.dumps(response), media_type="application/json")


def _last_user_text(body: dict[str, Any]) -> str:
    value = body.get("input")
    if isinstance(value, str):
        return value
    for item in reversed(value or []):
        if item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return "".join(part.get("text", "") for part in content)
    return ""


def _usage(text: str) -> dict[str, Any]:
    words = len(text.split())
    return {
        "input_tokens": 5,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": words,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 5 + words,
    }


def _message(text: str, status: str = "completed") -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": []}
    return {"id": "msg_upstream1", "type": "message", "role": "assistant", "status": status,
            "content": [part] if status == "completed" else []}  # fmt: skip


def _output(body: dict[str, Any]) -> list[dict[str, Any]]:
    if body["model"] == "tools":
        call_id, name, arguments = CALL
        return [{"id": "fc_upstream1", "type": "function_call", "status": "completed",
                 "call_id": call_id, "name": name, "arguments": arguments}]  # fmt: skip
    return [_message(_last_user_text(body))]


def _response(body: dict[str, Any], status: str, output: list[Any]) -> dict[str, Any]:
    text = _last_user_text(body) if status == "completed" else ""
    return {
        "id": RESPONSE_ID, "object": "response", "created_at": CREATED, "status": status,
        "error": None, "incomplete_details": None, "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"), "model": body["model"],
        "output": output, "parallel_tool_calls": True, "previous_response_id": None,
        "store": body.get("store", True), "temperature": 1.0, "tool_choice": "auto",
        "tools": body.get("tools", []), "top_p": 1.0, "metadata": {},
        "usage": _usage(text) if status == "completed" else None,
    }  # fmt: skip


def _sse(sequence: list[int], payload: dict[str, Any]) -> bytes:
    payload = {**payload, "sequence_number": sequence[0]}
    sequence[0] += 1
    kind: str = payload["type"]
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


async def _events(body: dict[str, Any]) -> AsyncIterator[bytes]:
    seq = [0]
    yield _sse(seq, {"type": "response.created", "response": _response(body, "in_progress", [])})
    yield _sse(
        seq, {"type": "response.in_progress", "response": _response(body, "in_progress", [])}
    )
    text = _last_user_text(body)
    ids = {"item_id": "msg_upstream1", "output_index": 0}
    yield _sse(seq, {"type": "response.output_item.added", "output_index": 0,
                     "item": _message("", "in_progress")})  # fmt: skip
    part = {"type": "output_text", "text": "", "annotations": []}
    yield _sse(
        seq, {"type": "response.content_part.added", "content_index": 0, "part": part, **ids}
    )
    for word in text.split(" "):
        yield _sse(seq, {"type": "response.output_text.delta", "content_index": 0,
                         "delta": word + " ", "logprobs": [], **ids})  # fmt: skip
        if body["model"] == "cut":
            return
    yield _sse(seq, {"type": "response.output_text.done", "content_index": 0, "text": text,
                     "logprobs": [], **ids})  # fmt: skip
    done_part = {**part, "text": text}
    yield _sse(
        seq, {"type": "response.content_part.done", "content_index": 0, "part": done_part, **ids}
    )
    yield _sse(
        seq, {"type": "response.output_item.done", "output_index": 0, "item": _message(text)}
    )
    final = _response(body, "completed", [_message(text)])
    yield _sse(seq, {"type": "response.completed", "response": final})
