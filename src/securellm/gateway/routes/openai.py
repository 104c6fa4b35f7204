"""The OpenAI API surface: chat, completions, embeddings and the model list."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm.core.errors import PermissionDenied
from securellm.gateway.context import RequestContext
from securellm.gateway.dispatch import Operation
from securellm.gateway.service import read_body, serve, to_response
from securellm.gateway.state import GatewayState
from securellm.gateway.validation import (
    JSON,
    check_chat,
    check_completion,
    check_embedding,
    parse_json_object,
)

Checker = Callable[[JSON], tuple[str, bool]]


async def proxy(
    ctx: RequestContext, state: GatewayState, request: Request, check: Checker, op: Operation
) -> Response:
    """Authenticate, validate, route and relay one inference request."""
    ctx.key = await state.auth.authenticate(request.headers)
    limit = state.settings.gateway.max_body_bytes
    body = parse_json_object(await read_body(request, limit), limit)
    ctx.model, ctx.stream = check(body)
    route = await state.catalog.resolve(ctx.model)
    if not ctx.key.allows_model(ctx.model):
        raise PermissionDenied(f"this key may not use model {ctx.model!r}", param="model")
    await state.admission.admit(ctx, route, body)
    upstream = await state.dispatcher.dispatch(ctx, route, op, body, ctx.stream)
    return to_response(ctx, state, upstream)


def _endpoint(name: Operation, check: Checker) -> Callable[[Request], object]:
    async def handler(request: Request) -> Response:
        async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
            return await proxy(ctx, state, req, check, name)

        return await serve(request, name, "openai", work)

    handler.__name__ = f"openai_{name}"
    return handler


async def list_models(request: Request) -> Response:
    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        ctx.key = await state.auth.authenticate(req.headers)
        key = ctx.key
        data = [
            {"id": model_id, "object": "model", "created": 0, "owned_by": owner}
            for model_id, owner in state.catalog.public_ids()
            if key.allows_model(model_id)
        ]
        return Response(
            orjson.dumps({"object": "list", "data": data}), media_type="application/json"
        )

    return await serve(request, "models", "openai", work)


routes = [
    Route("/v1/chat/completions", _endpoint("chat", check_chat), methods=["POST"]),
    Route("/v1/completions", _endpoint("completions", check_completion), methods=["POST"]),
    Route("/v1/embeddings", _endpoint("embeddings", check_embedding), methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
]
