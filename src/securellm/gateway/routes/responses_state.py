"""Stored responses: ``GET /v1/responses/{id}``, ``GET /v1/responses/{id}/input_items`` and
``DELETE /v1/responses/{id}``, in OpenAI's shapes, for the key that created them.

Another key, an expired response, a deleted one and an id that was never issued all get
the same 404, so ids do not leak between keys.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm.core.errors import InvalidRequest
from securellm.gateway.context import RequestContext
from securellm.gateway.responses_store import ResponseNotFound
from securellm.gateway.service import serve
from securellm.gateway.state import GatewayState
from securellm.providers.base import JSON

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _missing(response_id: str) -> ResponseNotFound:
    return ResponseNotFound(response_id, param=None)


async def _caller(ctx: RequestContext, state: GatewayState, request: Request) -> str:
    ctx.key = await state.auth.authenticate(request.headers)
    return ctx.key.id


async def retrieve_response(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        key_id = await _caller(ctx, state, req)
        response_id = req.path_params["response_id"]
        found = await state.responses.get(key_id, response_id)
        if found is None:
            raise _missing(response_id)
        return _json(found)

    return await serve(request, "response_get", "responses", work)


async def delete_response(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        key_id = await _caller(ctx, state, req)
        response_id = req.path_params["response_id"]
        if not await state.responses.delete(key_id, response_id):
            raise _missing(response_id)
        return _json({"id": response_id, "object": "response", "deleted": True})

    return await serve(request, "response_delete", "responses", work)


async def list_input_items(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        key_id = await _caller(ctx, state, req)
        response_id = req.path_params["response_id"]
        page = Page.from_query(req.query_params)
        items = await state.responses.input_items(key_id, response_id)
        if items is None:
            raise _missing(response_id)
        return _json(page.of([listed(item, response_id, n) for n, item in enumerate(items)]))

    return await serve(request, "response_items", "responses", work)


class Page:
    """``limit``, ``order``, ``after`` and ``before`` of a list request (OpenAI's cursors)."""

    def __init__(self, limit: int, order: str, after: str | None, before: str | None) -> None:
        self.limit, self.order, self.after, self.before = limit, order, after, before

    @classmethod
    def from_query(cls, query: Any) -> Page:
        raw = query.get("limit")
        try:
            limit = DEFAULT_LIMIT if raw is None else int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(
                f"limit must be an integer from 1 to {MAX_LIMIT}, got {str(raw)[:40]!r}",
                param="limit",
            )
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise InvalidRequest(
                f"order must be 'asc' or 'desc', got {order[:40]!r}", param="order"
            )
        return cls(limit, order, query.get("after"), query.get("before"))

    def of(self, items: list[JSON]) -> JSON:
        ordered = items if self.order == "asc" else items[::-1]
        ids = [item["id"] for item in ordered]
        start = _after(ids, self.after, "after")
        end = _before(ids, self.before)
        window = ordered[start:end]
        data = window[: self.limit]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(window) > len(data),
        }


def _after(ids: list[str], cursor: str | None, param: str) -> int:
    if cursor is None:
        return 0
    if cursor not in ids:
        raise InvalidRequest(f"{param}: no input item with id {cursor[:80]!r}", param=param)
    return ids.index(cursor) + 1


def _before(ids: list[str], cursor: str | None) -> int:
    if cursor is None:
        return len(ids)
    return _after(ids, cursor, "before") - 1


def listed(item: JSON, response_id: str, index: int) -> JSON:
    """An input item as the list shows it: with a type, an id (stable: derived from the
    response and the position when the client gave none) and, for a message, its content
    as parts and a status."""
    shown = dict(item)
    kind = shown.setdefault("type", "message")
    if "id" not in shown or not isinstance(shown["id"], str):
        prefix = "msg" if kind == "message" else "item"
        digest = hashlib.sha256(f"{response_id}\0{index}".encode()).hexdigest()[:40]
        shown["id"] = f"{prefix}_{digest}"
    if kind == "message":
        shown.setdefault("status", "completed")
        if isinstance(shown.get("content"), str):
            part = "output_text" if shown.get("role") == "assistant" else "input_text"
            text_part: JSON = {"type": part, "text": shown["content"]}
            if part == "output_text":
                text_part["annotations"] = []
            shown["content"] = [text_part]
    return shown


routes = [
    Route("/v1/responses/{response_id}", retrieve_response, methods=["GET"]),
    Route("/v1/responses/{response_id}", delete_response, methods=["DELETE"]),
    Route("/v1/responses/{response_id}/input_items", list_input_items, methods=["GET"]),
]
