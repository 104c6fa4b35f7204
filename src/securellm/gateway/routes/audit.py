"""Admin endpoints for the audit trail and spend: ``/admin/audit`` and ``/admin/spend``."""

from __future__ import annotations

import math
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm.core.errors import InvalidRequest
from securellm.gateway.audit.query import AuditFilter, parse_time, query
from securellm.gateway.context import RequestContext
from securellm.gateway.keys import KeyNotFound
from securellm.gateway.service import serve
from securellm.gateway.spend import BudgetLedger
from securellm.gateway.state import GatewayState

MAX_LIMIT = 10_000
MAX_INT = 2**63 - 1  # the widest integer SQLite and PostgreSQL compare against
GROUPS = ("key", "model", "provider")


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _time(params: dict[str, str], name: str) -> float | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        moment = parse_time(value)
    except ValueError as exc:
        raise InvalidRequest(str(exc), param=name) from None
    if not math.isfinite(moment):
        raise InvalidRequest(f"{name} must be a finite time", param=name)
    return moment


def _int(params: dict[str, str], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_INT:
        raise InvalidRequest(f"{name} must be an integer from 0 to {MAX_INT}", param=name)
    return int(value)


async def _key_id(state: GatewayState, value: str | None) -> str | None:
    """Accept a key id or a key name (an unknown value is taken as an id)."""
    if value is None:
        return None
    try:
        return (await state.keys.get(value)).id
    except KeyNotFound:
        return value


async def _admin(ctx: RequestContext, state: GatewayState, request: Request) -> dict[str, str]:
    ctx.key = await state.auth.authenticate(request.headers)
    state.auth.require_admin(ctx.key)
    return dict(request.query_params)


async def audit_events(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        params = await _admin(ctx, state, req)
        limit = min(_int(params, "limit", 100) or 100, MAX_LIMIT)
        flt = AuditFilter(
            since=_time(params, "since"),
            until=_time(params, "until"),
            key=await _key_id(state, params.get("key")),
            model=params.get("model"),
            provider=params.get("provider"),
            status=_int(params, "status"),
            outcome=params.get("outcome"),
            limit=limit,
        )
        rows = await query(state.engine, flt)
        return _json({"object": "list", "data": rows})

    return await serve(request, "admin_audit", "openai", work)


async def spend(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        params = await _admin(ctx, state, req)
        group = params.get("group_by", "key")
        if group not in GROUPS:
            raise InvalidRequest("group_by must be key, model or provider", param="group_by")
        since = _time(params, "since") or time.time() - 30 * 86400
        until = _time(params, "until") or time.time() + 1
        key_id = await _key_id(state, params.get("key"))
        ledger = BudgetLedger(state.engine)
        body: dict[str, Any] = {
            "object": "spend",
            "group_by": group,
            "since": since,
            "until": until,
            "data": await ledger.spend_by(group, since, until, key_id),
        }
        budgets = []
        for record in await state.keys.list():
            if record.budget_usd is None or (key_id and record.id != key_id):
                continue
            usage = await ledger.usage(record.id, record.budget_period or "total")
            budgets.append(
                {"key_id": record.id, "name": record.name, "budget_usd": record.budget_usd, **usage}
            )
        body["budgets"] = budgets
        return _json(body)

    return await serve(request, "admin_spend", "openai", work)


routes = [
    Route("/admin/audit", audit_events, methods=["GET"]),
    Route("/admin/spend", spend, methods=["GET"]),
]
