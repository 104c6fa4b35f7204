"""The inference pipeline shared by every API dialect.

authenticate → read and check the body → resolve the model → key may use it → (a turn's
``prepare``) → admit (limits, budgets) → dispatch (cache, breakers, retries, fallback) →
(a turn's ``finish``) → respond. The dialects differ only in their body checks, in how
errors are written, and, for the Responses API, in a turn that adds the stored state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from securellm.core.errors import InvalidRequest, PermissionDenied, UnprocessableRequest
from securellm.gateway.context import RequestContext
from securellm.gateway.dispatch import Operation
from securellm.gateway.errors import Dialect
from securellm.gateway.service import read_body, serve, to_response
from securellm.gateway.state import GatewayState
from securellm.gateway.validation import JSON, parse_json_object
from securellm.providers.base import UpstreamResponse

Checker = Callable[[JSON], tuple[str, bool]]
Handler = Callable[[Request], Awaitable[Response]]
FORWARDED = {"anthropic": ("anthropic-beta",), "openai": (), "responses": ()}


class Turn(Protocol):
    """Steps one request adds around admission and dispatch (made fresh for each request)."""

    async def prepare(self, ctx: RequestContext, state: GatewayState, body: JSON) -> JSON:
        """The body to admit and dispatch (after the key may use the model)."""

    async def finish(
        self, ctx: RequestContext, state: GatewayState, upstream: UpstreamResponse
    ) -> UpstreamResponse:
        """The answer to send, once the upstream answered."""


TurnFactory = Callable[[], Turn]


async def read_json(request: Request, state: GatewayState, dialect: Dialect) -> JSON:
    limit = state.settings.gateway.max_body_bytes
    raw = await read_body(request, limit)
    try:
        return parse_json_object(raw, limit)
    except UnprocessableRequest as exc:
        if dialect != "openai":  # Anthropic and the Responses API answer every bad body 400
            raise InvalidRequest(exc.message) from None
        raise


async def run_pipeline(
    ctx: RequestContext,
    state: GatewayState,
    request: Request,
    check: Checker,
    op: Operation,
    turn: Turn | None = None,
) -> Response:
    """One inference request, from the client's bytes to the upstream's answer."""
    ctx.key = await state.auth.authenticate(request.headers)
    for header in FORWARDED[ctx.dialect]:
        if value := request.headers.get(header):
            ctx.forward_headers[header] = value
    ctx.server_tools = state.settings.gateway.server_tools
    body = await read_json(request, state, ctx.dialect)
    ctx.model, ctx.stream = check(body)
    route = await state.catalog.resolve(ctx.model)
    if not ctx.key.allows_model(ctx.model):
        raise PermissionDenied(f"this key may not use model {ctx.model!r}", param="model")
    if turn is not None:
        body = await turn.prepare(ctx, state, body)
    await state.admission.admit(ctx, route, body)
    upstream = await state.dispatcher.dispatch(ctx, route, op, body, ctx.stream)
    if turn is not None:
        upstream = await turn.finish(ctx, state, upstream)
    return to_response(ctx, state, upstream)


def endpoint(
    op: Operation, check: Checker, dialect: Dialect, turn: TurnFactory | None = None
) -> Handler:
    """A Starlette endpoint running the pipeline for ``op`` in ``dialect``."""

    async def handler(request: Request) -> Response:
        async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
            return await run_pipeline(ctx, state, req, check, op, turn() if turn else None)

        return await serve(request, op, dialect, work)

    handler.__name__ = f"{dialect}_{op}"
    return handler
