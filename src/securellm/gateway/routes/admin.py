"""Admin endpoints under the master key or an admin virtual key: manage virtual keys.

A missing or wrong key gets 401, a valid key that is not the master key 403. Key names are
unique among live keys (409 ``key_name_taken``); a name several keys share from before
that rule is refused with the candidates (409 ``ambiguous_key_name``): use the id.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm.core.errors import NotFound, UnprocessableRequest
from securellm.gateway.context import RequestContext
from securellm.gateway.keys import MAX_BUDGET_USD, KeyNotFound, KeyRecord, KeyUpdate, NewKey
from securellm.gateway.service import read_body, serve
from securellm.gateway.state import GatewayState
from securellm.gateway.validation import parse_json_object

BODY_LIMIT = 64 * 1024
T = TypeVar("T")


class KeyRequest(BaseModel):
    """Body of ``POST /admin/keys``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    models: list[str] | None = None
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    budget_usd: float | None = Field(default=None, gt=0, le=MAX_BUDGET_USD)
    period: Literal["day", "month", "total"] | None = None
    log_content: bool = False
    cache_enabled: bool = True
    expires_at: datetime | None = None
    admin: bool = False


class KeyUpdateRequest(BaseModel):
    """Body of ``PATCH /admin/keys/{id}``: the fields given change, ``null`` clears one."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] | None = None
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    budget_usd: float | None = Field(default=None, gt=0, le=MAX_BUDGET_USD)
    period: Literal["day", "month", "total"] | None = None
    log_content: bool = False
    cache_enabled: bool = True
    expires_at: datetime | None = None

    def to_update(self) -> KeyUpdate:
        given = {name: getattr(self, name) for name in self.model_fields_set}
        if "period" in given:
            given["budget_period"] = given.pop("period")
        return KeyUpdate(**given)


Body = TypeVar("Body", bound=BaseModel)


def _parse(model: type[Body], raw: Any) -> Body:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UnprocessableRequest(f"{where}: {first['msg']}", param=where) from None


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
        spec = _parse(KeyRequest, parse_json_object(await read_body(req, BODY_LIMIT), BODY_LIMIT))
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
                admin=spec.admin,
            )
        )
        return _json({**record.public_dict(), "key": plaintext}, status=201)

    return await serve(request, "admin_keys", "openai", work)


async def _known(action: Awaitable[T], key: str) -> T:
    try:
        return await action
    except KeyNotFound:
        raise NotFound(f"no key with id or name {key!r}") from None


async def revoke_key(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        await _admin(ctx, state, req)
        key = req.path_params["key_id"]
        record = await _known(state.keys.revoke(key), key)
        state.auth.forget(record.id)
        return _json(record.public_dict())

    return await serve(request, "admin_keys", "openai", work)


async def update_key(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        await _admin(ctx, state, req)
        key = req.path_params["key_id"]
        raw = parse_json_object(await read_body(req, BODY_LIMIT), BODY_LIMIT)
        change = _parse(KeyUpdateRequest, raw).to_update()
        if not change.changes():
            raise UnprocessableRequest("nothing to change: give at least one field")
        record: KeyRecord = await _known(state.keys.update(key, change), key)
        state.auth.forget(record.id)
        return _json(record.public_dict())

    return await serve(request, "admin_keys", "openai", work)


async def regenerate_key(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        await _admin(ctx, state, req)
        key = req.path_params["key_id"]
        record, plaintext = await _known(state.keys.regenerate(key), key)
        state.auth.forget(record.id)
        return _json({**record.public_dict(), "key": plaintext})

    return await serve(request, "admin_keys", "openai", work)


routes = [
    Route("/admin/keys", list_keys, methods=["GET"]),
    Route("/admin/keys", create_key, methods=["POST"]),
    Route("/admin/keys/{key_id}", revoke_key, methods=["DELETE"]),
    Route("/admin/keys/{key_id}", update_key, methods=["PATCH"]),
    Route("/admin/keys/{key_id}/regenerate", regenerate_key, methods=["POST"]),
]
