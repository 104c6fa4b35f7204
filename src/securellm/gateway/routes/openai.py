"""The OpenAI API surface: chat, completions, embeddings and the model list."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm.gateway.context import RequestContext
from securellm.gateway.pipeline import endpoint
from securellm.gateway.service import serve
from securellm.gateway.state import GatewayState
from securellm.gateway.validation import check_chat, check_completion, check_embedding


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
    Route("/v1/chat/completions", endpoint("chat", check_chat, "openai"), methods=["POST"]),
    Route("/v1/completions", endpoint("completions", check_completion, "openai"), methods=["POST"]),
    Route("/v1/embeddings", endpoint("embeddings", check_embedding, "openai"), methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
]
