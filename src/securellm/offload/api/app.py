"""``create_app(settings)``: the offload ASGI app; the service lives in the lifespan state."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from securellm.core.config import Settings
from securellm.offload.api import embeddings, logs, openapi, routes, status
from securellm.offload.api.errors import http_error, offload_error, unexpected_error
from securellm.offload.api.limits import BodyLimit
from securellm.offload.api.upstream import passthrough
from securellm.offload.errors import OffloadError
from securellm.offload.service import OffloadService

UPSTREAM_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def create_app(settings: Settings, *, scan_on_start: bool = True) -> Starlette:
    """Build the app; the registry, GPU monitor and scheduler are created when it starts."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service = OffloadService.create(settings)
        app.state.service = service
        try:
            await service.recover()
            if scan_on_start:
                service.scan_in_background()
            service.start_background()
            yield
        finally:
            await service.close()

    return Starlette(
        routes=[
            Route("/health", routes.health, methods=["GET"]),
            Route("/health/vram", routes.health_vram, methods=["GET"]),
            Route("/ps", status.ps, methods=["GET"]),
            Route("/v1/models", routes.openai_models, methods=["GET"]),
            Route("/v1/chat/completions", routes.chat_completions, methods=["POST"]),
            Route("/v1/completions", routes.completions, methods=["POST"]),
            Route("/v1/embeddings", embeddings.embeddings, methods=["POST"]),
            Route("/tokenize", routes.tokenize_text, methods=["POST"]),
            Route("/models", routes.list_models, methods=["GET"]),
            Route("/models/scan", routes.scan_models, methods=["POST"]),
            Route("/models/{model_id}", routes.show_model, methods=["GET"]),
            Route("/models/{model_id}/load", routes.load_model, methods=["POST"]),
            Route("/models/{model_id}/unload", routes.unload_model, methods=["POST"]),
            Route("/models/{model_id}/pin", routes.pin_model, methods=["POST"]),
            Route("/models/{model_id}/logs", logs.model_logs, methods=["GET"]),
            Route("/backends", routes.backends, methods=["GET"]),
            Route("/mode", routes.get_mode, methods=["GET"]),
            Route("/mode", routes.set_mode, methods=["POST"]),
            Route("/metrics", routes.metrics, methods=["GET"]),
            Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
            Route("/upstream/{model_id}/{path:path}", passthrough, methods=UPSTREAM_METHODS),
        ],
        middleware=[Middleware(BodyLimit, limit=settings.offload.max_body_bytes)],
        exception_handlers={
            OffloadError: offload_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
        lifespan=lifespan,
    )
