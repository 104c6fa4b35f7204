"""ONE scripted upstream that speaks, on one port, every dialect the coding agents reach.

- OpenAI Chat Completions: ``POST /v1/chat/completions`` (JSON and SSE);
- Anthropic Messages: ``POST /v1/messages`` (JSON and SSE), ``POST /v1/messages/count_tokens``;
- OpenAI Responses: ``POST /v1/responses`` (JSON and SSE), ``GET /v1/responses/{id}``, with
  ``store`` / ``previous_response_id`` kept in memory;
- ``GET /v1/models``, in Anthropic's shape when the request carries ``anthropic-version``.

What it answers is the script's (:mod:`support.scripted.script`): a shell tool call while
no tool has run, then a final text with the marker. Every request is recorded (path,
headers, body and what the script answered) for the tests' assertions; a path it does not
serve is recorded too and answered 404.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from support.asgi_server import serve_app
from support.scripted import chat, messages, responses
from support.scripted.script import Reply, Script, default_script

Dialect = Literal["chat", "messages", "count_tokens", "responses", "models", "unknown"]
GENERATIONS: tuple[Dialect, ...] = ("chat", "messages", "responses")
MODELS = ("scripted",)
SSE = "text/event-stream; charset=utf-8"


@dataclass
class Recorded:
    dialect: Dialect
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    reply: Reply | None = None


@dataclass
class ScriptedUpstream:
    """The app and what it saw; ``script`` decides every answer."""

    script: Script = default_script
    requests: list[Recorded] = field(default_factory=list)
    stored: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    @property
    def generations(self) -> list[Recorded]:
        """The requests that asked for a completion (chat, messages, responses)."""
        return [r for r in self.requests if r.dialect in GENERATIONS]

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/messages", self.messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self.count_tokens, methods=["POST"]),
                Route("/v1/responses", self.responses, methods=["POST"]),
                Route("/v1/responses/{response_id}", self.get_response, methods=["GET"]),
                Route("/{rest:path}", self.unknown, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )

    async def _record(self, dialect: Dialect, request: Request) -> Recorded:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"unparsed": raw.decode(errors="replace")}
        entry = Recorded(dialect, request.method, request.url.path, dict(request.headers), body)
        self.requests.append(entry)
        return entry

    async def unknown(self, request: Request) -> Response:
        await self._record("unknown", request)
        return _openai_error(404, f"no route for {request.method} {request.url.path}")

    async def models(self, request: Request) -> Response:
        await self._record("models", request)
        if "anthropic-version" in request.headers:
            data = [{"type": "model", "id": m, "display_name": m,
                     "created_at": "2025-01-01T00:00:00Z"} for m in MODELS]  # fmt: skip
            return _json({"data": data, "has_more": False,
                          "first_id": MODELS[0], "last_id": MODELS[-1]})  # fmt: skip
        listed = [
            {"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in MODELS
        ]
        return _json({"object": "list", "data": listed})

    async def chat(self, request: Request) -> Response:
        entry = await self._record("chat", request)
        if not _has_bearer(request):
            return _openai_error(401, "Incorrect API key provided")
        entry.reply = self.script(chat.turn_of(entry.body))
        if entry.body.get("stream"):
            return _stream(chat.events(entry.body, entry.reply))
        return _json(chat.completion(entry.body, entry.reply))

    async def messages(self, request: Request) -> Response:
        entry = await self._record("messages", request)
        denied = _anthropic_denied(request)
        if denied is not None:
            return denied
        entry.reply = self.script(messages.turn_of(entry.body))
        if entry.body.get("stream"):
            return _stream(messages.events(entry.body, entry.reply))
        return _json(messages.message(entry.body, entry.reply))

    async def count_tokens(self, request: Request) -> Response:
        entry = await self._record("count_tokens", request)
        return _anthropic_denied(request) or _json(messages.count(entry.body))

    async def responses(self, request: Request) -> Response:
        entry = await self._record("responses", request)
        if not _has_bearer(request):
            return _openai_error(401, "Incorrect API key provided")
        body = entry.body
        previous = body.get("previous_response_id")
        if previous is not None and previous not in self.stored:
            return _openai_error(404, f"Previous response with id '{previous}' not found.",
                                 param="previous_response_id")  # fmt: skip
        items = [*self.stored.get(previous or "", []), *responses.input_items(body)]
        entry.reply = self.script(responses.turn_of(body, items))
        response_id = f"resp_scripted{next(self._ids):04d}"
        done = responses.response(body, items, entry.reply, response_id)
        if body.get("store", True):
            self.stored[response_id] = [*items, *done["output"]]
            self.bodies[response_id] = done
        if body.get("stream"):
            return _stream(responses.events(done))
        return _json(done)

    async def get_response(self, request: Request) -> Response:
        await self._record("responses", request)
        found = self.bodies.get(request.path_params["response_id"])
        if found is None:
            return _openai_error(404, "No response found with that id.")
        return _json(found)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status, media_type="application/json")


def _stream(events: list[bytes]) -> StreamingResponse:
    async def body() -> Any:
        for event in events:
            yield event

    return StreamingResponse(body(), media_type=SSE, headers={"cache-control": "no-cache"})


def _openai_error(status: int, message: str, param: str | None = None) -> Response:
    kind = "invalid_request_error"
    return _json(
        {"error": {"message": message, "type": kind, "param": param, "code": None}}, status
    )


def _has_bearer(request: Request) -> bool:
    return request.headers.get("authorization", "").startswith("Bearer ")


def _anthropic_denied(request: Request) -> Response | None:
    def error(status: int, kind: str, message: str) -> Response:
        return _json({"type": "error", "error": {"type": kind, "message": message}}, status)

    if not request.headers.get("x-api-key") and not _has_bearer(request):
        return error(401, "authentication_error", "x-api-key header is required")
    if not request.headers.get("anthropic-version"):
        return error(400, "invalid_request_error", "anthropic-version header is required")
    return None


@contextmanager
def scripted_upstream(script: Script = default_script) -> Iterator[tuple[str, ScriptedUpstream]]:
    """Serve a scripted upstream on a free port: ``(root URL, recorder)``."""
    upstream = ScriptedUpstream(script)
    with serve_app(upstream.app()) as url:
        yield url, upstream
