"""The request edge: one audit outcome per request, errors rendered in the client's dialect."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from securellm.core.errors import (
    AuthenticationFailed,
    BudgetExceeded,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    SecureLLMError,
    UpstreamTimeout,
)
from securellm.core.logging import request_id_var
from securellm.gateway.context import Outcome, RequestContext
from securellm.gateway.errors import Dialect, error_response
from securellm.gateway.state import GatewayState, gateway_state
from securellm.providers.base import UpstreamResponse

log = logging.getLogger(__name__)
CONTENT_LIMIT = 256 * 1024  # bytes of a response kept for keys with log_content
Work = Callable[[RequestContext, GatewayState, Request], Awaitable[Response]]


def outcome_of(exc: SecureLLMError) -> Outcome:
    if isinstance(exc, (RateLimited, BudgetExceeded)) and exc.status == 429:
        return "rate_limited" if isinstance(exc, RateLimited) else "refused"
    if isinstance(exc, (AuthenticationFailed, PermissionDenied)) or exc.status < 500:
        return "refused"
    if isinstance(exc, UpstreamTimeout):
        return "timed_out"
    return "failed"


async def serve(request: Request, endpoint: str, dialect: Dialect, work: Work) -> Response:
    """Run ``work`` for one request; every path ends in exactly one ``state.finish``."""
    state = gateway_state(request)
    ctx = RequestContext(
        endpoint=endpoint,
        dialect=dialect,
        client_ip=request.client.host if request.client else None,
        no_cache=_no_cache(request.headers.get("cache-control")),
    )
    request_id_var.set(ctx.request_id)
    state.in_flight += 1
    deferred = False
    try:
        response = await work(ctx, state, request)
        deferred = isinstance(response, StreamingResponse)
        return response
    except SecureLLMError as exc:
        ctx.status, ctx.error, ctx.outcome = exc.status, exc.message, outcome_of(exc)
        headers = {**ctx.response_headers, "x-request-id": ctx.request_id}
        return error_response(exc, dialect, headers)
    except ClientDisconnect:
        ctx.status, ctx.error, ctx.outcome = 499, "client disconnected", "client_gone"
        return Response(status_code=499)
    except Exception:
        log.exception("unhandled error", extra={"request_id": ctx.request_id})
        ctx.status, ctx.error, ctx.outcome = 500, "internal error", "failed"
        internal = SecureLLMError(f"internal error (request id {ctx.request_id})")
        return error_response(internal, dialect, {"x-request-id": ctx.request_id})
    finally:
        if not deferred:
            state.in_flight -= 1
            state.finish(ctx)


def _keep_response(ctx: RequestContext, raw: bytes) -> None:
    """For keys that record content: the answer as the client got it (capped; redacted later)."""
    text = raw[:CONTENT_LIMIT].decode("utf-8", "replace")
    ctx.content = {**(ctx.content or {}), "response": text}


def _no_cache(header: str | None) -> bool:
    """``Cache-Control: no-cache`` or ``no-store`` from the client skips the response cache."""
    if not header:
        return False
    directives = {part.strip().lower() for part in header.split(",")}
    return bool(directives & {"no-cache", "no-store"})


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def to_response(ctx: RequestContext, state: GatewayState, upstream: UpstreamResponse) -> Response:
    headers = {
        **upstream.headers,
        **ctx.response_headers,
        "x-request-id": ctx.request_id,
        "x-securellm-provider": ctx.provider or "",
    }
    if upstream.stream is None:
        ctx.usage = upstream.usage
        ctx.status = upstream.status
        if ctx.key is not None and ctx.key.log_content and upstream.body is not None:
            _keep_response(ctx, upstream.body)
        return Response(
            upstream.body, upstream.status, headers=headers, media_type=upstream.media_type
        )
    headers.update({"cache-control": "no-cache", "x-accel-buffering": "no"})
    return StreamingResponse(
        relay(ctx, state, upstream),
        upstream.status,
        headers=headers,
        media_type=upstream.media_type,
    )


async def relay(
    ctx: RequestContext, state: GatewayState, upstream: UpstreamResponse
) -> AsyncIterator[bytes]:
    """Forward a stream and record its outcome when it ends, however it ends."""
    assert upstream.stream is not None
    finished = False
    kept: list[bytes] | None = [] if ctx.key is not None and ctx.key.log_content else None
    kept_bytes = 0
    try:
        async for chunk in upstream.stream:
            if ctx.first_byte_at is None:
                ctx.first_byte_at = time.perf_counter()
            if kept is not None and kept_bytes < CONTENT_LIMIT:
                kept.append(chunk)
                kept_bytes += len(chunk)
            yield chunk
        finished = True
    finally:
        if kept:
            _keep_response(ctx, b"".join(kept))
        with contextlib.suppress(Exception):
            await upstream.stream.aclose()  # type: ignore[attr-defined]
        ctx.usage = upstream.usage
        if not finished:
            ctx.outcome, ctx.error = "client_gone", "client disconnected mid-stream"
        elif not upstream.complete:
            ctx.outcome, ctx.error = "failed", "upstream stream ended before completion"
        state.in_flight -= 1
        state.finish(ctx)
