"""Operations endpoints: Prometheus ``/metrics`` and the response cache under ``/admin/cache``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm.core.errors import SecureLLMError
from securellm.gateway.context import RequestContext
from securellm.gateway.errors import error_response
from securellm.gateway.service import serve
from securellm.gateway.state import GatewayState, gateway_state


async def ops_refusal(request: Request) -> Response | None:
    """``None`` when the caller may read an ops endpoint, else the 401/403 to send.

    With ``[gateway] protect_ops`` on (``auto``: whenever the gateway is bound to a
    non-loopback address) ``/metrics`` and ``/ready`` need the master key; scrapes are not
    audited, like ``/health``.
    """
    state = gateway_state(request)
    if not state.settings.gateway.ops_protected:
        return None
    try:
        state.auth.require_admin(await state.auth.authenticate(request.headers))
    except SecureLLMError as exc:
        return error_response(exc, "openai")
    return None


async def metrics(request: Request) -> Response:
    """Prometheus exposition: the totals of every worker (see :mod:`securellm.gateway.metrics`)."""
    refusal = await ops_refusal(request)
    if refusal is not None:
        return refusal
    state = gateway_state(request)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _cache_endpoint(clear: bool) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
            ctx.key = await state.auth.authenticate(req.headers)
            state.auth.require_admin(ctx.key)
            assert state.cache is not None
            body = {"cleared": await state.cache.clear()} if clear else state.cache.describe()
            return Response(orjson.dumps(body), media_type="application/json")

        return await serve(request, "admin_cache", "openai", work)

    return handler


routes = [
    Route("/metrics", metrics, methods=["GET"]),
    Route("/admin/cache", _cache_endpoint(clear=False), methods=["GET"]),
    Route("/admin/cache", _cache_endpoint(clear=True), methods=["DELETE"]),
]
