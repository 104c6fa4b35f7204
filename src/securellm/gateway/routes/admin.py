"""Admin endpoints under the master key: manage virtual keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm.core.errors import NotFound, UnprocessableRequest
from securellm.gateway.context import RequestContext
from securellm.gateway.keys import KeyNotFound, NewKey
from securellm.gateway.service import read_body, serve
from securellm.gateway.state import GatewayState
from securellm.gateway.validation import parse_json_object


class KeyRequest(BaseModel):
    """Body of ``POST /admin/keys``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    models: list[str] | None = None
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    budget_usd: float | None = Field(default=None, gt=0)
    period: Literal["day", "month", "total"] | None = None
    log_content: bool = False
    cache_enabled: bool = True
    expires_at: datetime | None = None


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def _admin(ctx: RequestContext, state: GatewayState, request: Request) -> None:
    ctx.key = await state.auth.authenticate(request.headers)
    state.auth.require_admin(ctx.key)


async def list_keys(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        await _admin(ctx, state, req)
        return _json({"data": [k.public_dict() for k in await state.keys.list()]})

    return await serve(request, "admin_keys", "openai", work)


async def create_key(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        await _admin(ctx, state, req)
        raw = parse_json_object(await read_body(req, 64 * 1024), 64 * 1024)
        try:
            spec = KeyRequest.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UnprocessableRequest(f"{where}: {first['msg']}", param=where) from None
        record, plaintext = await state.keys.create(
            NewKey(
                name=spec.name,
                models=spec.models,
                rpm=spec.rpm,
                tpm=spec.tpm,
                max_concurrency=spec.max_concurrency,
                budget_usd=spec.budget_usd,
                budget_period=spec.period,
                log_content=spec.log_content,
                cache_enabled=spec.cache_enabled,
                expires_at=spec.expires_at,
            )
        )
        return _json({**record.public_dict(), "key": plaintext}, status=201)

    return await serve(request, "admin_keys", "openai", work)


async def revoke_key(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        await _admin(ctx, state, req)
        try:
            record = await state.keys.revoke(req.path_params["key_id"])
        except KeyNotFound:
            raise NotFound(f"no key with id or name {req.path_params['key_id']!r}") from None
        state.auth.forget(record.id)
        return _json(record.public_dict())

    return await serve(request, "admin_keys", "openai", work)


routes = [
    Route("/admin/keys", list_keys, methods=["GET"]),
    Route("/admin/keys", create_key, methods=["POST"]),
    Route("/admin/keys/{key_id}", revoke_key, methods=["DELETE"]),
]
