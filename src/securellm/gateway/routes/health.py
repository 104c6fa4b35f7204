"""Liveness (``/health``) and readiness (``/ready``)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm.gateway.routes.operations import ops_refusal
from securellm.gateway.state import gateway_state


async def health(_request: Request) -> Response:
    """Always open: liveness says nothing but that the process answers."""
    return Response(b'{"status":"ok"}', media_type="application/json")


async def ready(request: Request) -> Response:
    """503 while draining or when the database does not answer; providers are reported."""
    refusal = await ops_refusal(request)
    if refusal is not None:
        return refusal
    state = gateway_state(request)
    checks: dict[str, Any] = {"draining": state.draining}
    healthy = not state.draining
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = f"error: {type(exc).__name__}"
        healthy = False
    checks["providers"] = {
        name: ("discovered" if state.catalog.models_of(name) is not None else "unknown")
        for name in state.providers
    }
    for name, probe in state.readiness_probes.items():
        checks[name] = probe()
    body = {"status": "ready" if healthy else "not ready", "checks": checks}
    return Response(
        orjson.dumps(body), status_code=200 if healthy else 503, media_type="application/json"
    )


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/ready", ready, methods=["GET"]),
]
