"""``create_app(settings)``: the gateway's ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from securellm.core.config import Settings, load_settings
from securellm.core.errors import NotFound, SecureLLMError
from securellm.core.log_lines import LineWriter
from securellm.core.logging import configure_logging
from securellm.core.redact import redact
from securellm.core.runtime import tune_gc
from securellm.dashboard.app import mount as dashboard_mount
from securellm.gateway import openapi
from securellm.gateway.errors import error_response
from securellm.gateway.limits_http import HeaderLimits
from securellm.gateway.request_log import RequestLog
from securellm.gateway.routes import (
    admin,
    anthropic,
    audit,
    health,
    openai,
    operations,
    responses,
    responses_state,
)
from securellm.gateway.state import ProviderFactory, build_state
from securellm.providers.registry import build_provider


def _dialect_of(request: Request) -> str:
    return "anthropic" if request.url.path.startswith("/v1/messages") else "openai"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})  # 405 carries ``Allow``
    if exc.status_code == 404:
        error: SecureLLMError = NotFound(f"no route for {request.method} {request.url.path}")
    elif exc.status_code == 405:
        allowed = headers.get("Allow", "")
        error = SecureLLMError(
            f"method {request.method} is not allowed on {request.url.path} (allowed: {allowed})"
        )
    else:
        error = SecureLLMError(exc.detail)
    if exc.status_code != 404:
        error.status = exc.status_code
        error.error_type = "invalid_request_error"
    return error_response(
        error, "anthropic" if _dialect_of(request) == "anthropic" else "openai", headers
    )


def create_app(
    settings: Settings,
    *,
    provider_factory: ProviderFactory = build_provider,
    server_process: bool = False,
    log_writer: LineWriter | None = None,
) -> Starlette:
    """Build the gateway; nothing is opened until the lifespan starts.

    ``server_process``: the app owns its process (a uvicorn worker), so start-up may tune
    the garbage collector for serving (:func:`securellm.core.runtime.tune_gc`).
    ``log_writer``: where the request log goes (default: stdout, when
    ``[gateway] request_log`` holds).
    """

    gw = settings.gateway
    writer = log_writer or (LineWriter() if gw.request_log else None)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with build_state(settings, provider_factory) as state:
            if server_process:
                tune_gc()
            try:
                yield {"gateway": state}
            finally:
                if writer is not None:
                    writer.close()

    middleware = [Middleware(HeaderLimits, max_bytes=gw.max_header_bytes, max_count=gw.max_headers)]
    if writer is not None:  # outermost: every request gets its line, refused ones too
        middleware.insert(0, Middleware(RequestLog, writer=writer, redact=_redactor(settings)))
    if settings.gateway.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.gateway.cors_origins),
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["authorization", "content-type", "x-api-key", "anthropic-version"],
            )
        )
    return Starlette(
        routes=[
            *health.routes,
            *openai.routes,
            *anthropic.routes,
            *responses_state.routes,
            *responses.routes,
            *admin.routes,
            *audit.routes,
            *operations.routes,
            *openapi.routes,
            dashboard_mount(settings),
        ],
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers={HTTPException: _http_error},
    )


def _redactor(settings: Settings) -> Callable[[str], str]:
    """Masks credentials, and the configured keys (master, upstreams) whatever their shape."""
    known = [p.api_key.get_secret_value() for p in settings.providers if p.api_key]
    if settings.gateway.master_key is not None:
        known.append(settings.gateway.master_key.get_secret_value())

    def masked(text: str) -> str:
        return redact(text, known)

    return masked


def app_from_environment() -> Starlette:
    """Factory for uvicorn workers (``--workers N``): settings from ``SECURELLM_CONFIG``."""
    settings = load_settings()
    configure_logging(redact=_redactor(settings), level=settings.gateway.log_level)
    return create_app(settings, server_process=True)
