"""The OpenAI API surface: chat, completions, embeddings, and the model list (both shapes)."""

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


def _openai_list(ids: list[tuple[str, str]]) -> dict[str, object]:
    data = [{"id": i, "object": "model", "created": 0, "owned_by": owner} for i, owner in ids]
    return {"object": "list", "data": data}


def _anthropic_list(ids: list[tuple[str, str]]) -> dict[str, object]:
    """Anthropic's ``GET /v1/models`` page shape (one page holds every model)."""
    data = [
        {"type": "model", "id": i, "display_name": i, "created_at": "1970-01-01T00:00:00Z"}
        for i, _ in ids
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


async def list_models(request: Request) -> Response:
    """Every model and alias the key may use; Anthropic's shape for Anthropic clients."""
    anthropic = "anthropic-version" in request.headers

    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        ctx.key = await state.auth.authenticate(req.headers)
        key = ctx.key
        ids = [(i, owner) for i, owner in state.catalog.public_ids() if key.allows_model(i)]
        body = _anthropic_list(ids) if anthropic else _openai_list(ids)
        return Response(orjson.dumps(body), media_type="application/json")

    return await serve(request, "models", "anthropic" if anthropic else "openai", work)


routes = [
    Route("/v1/chat/completions", endpoint("chat", check_chat, "openai"), methods=["POST"]),
    Route("/v1/completions", endpoint("completions", check_completion, "openai"), methods=["POST"]),
    Route("/v1/embeddings", endpoint("embeddings", check_embedding, "openai"), methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
]
