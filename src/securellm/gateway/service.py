"""The request edge: one audit outcome per request, errors rendered in the client's dialect."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

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
from securellm.gateway.context import (
    CONTEXT_SCOPE,
    REQUEST_ID_SCOPE,
    Outcome,
    RequestContext,
    new_request_id,
)
from securellm.gateway.errors import Dialect, error_response
from securellm.gateway.state import GatewayState, gateway_state
from securellm.providers.base import UpstreamResponse
from securellm.providers.translate.common import (
    OPENAI_DONE,
    anthropic_error_sse,
    openai_error_sse,
    responses_error_sse,
)

log = logging.getLogger(__name__)
CONTENT_LIMIT = 256 * 1024  # bytes of a response kept for keys with log_content
INCOMPLETE = "the upstream ended the stream before its last event"
TERMINAL: dict[str, tuple[bytes, ...]] = {
    "openai": (b"data: [DONE]",),
    "anthropic": (b"event: message_stop",),
    "responses": (b"event: response.completed", b"event: response.incomplete"),
}
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
    """Run ``work`` for one request; every path ends in exactly one ``state.finish``.

    The response goes out only once its audit record is written (a stream holds back its
    terminal event instead; see :func:`relay`).
    """
    state = gateway_state(request)
    ctx = RequestContext(
        endpoint=endpoint,
        dialect=dialect,
        request_id=request.scope.get(REQUEST_ID_SCOPE) or new_request_id(),
        client_ip=request.client.host if request.client else None,
        no_cache=_no_cache(request.headers.get("cache-control")),
    )
    request.scope[CONTEXT_SCOPE] = ctx
    request_id_var.set(ctx.request_id)
    state.in_flight += 1
    deferred = False
    waits: list[Awaitable[None]] = []
    try:
        response = await _answer(ctx, state, request, work)
        deferred = isinstance(response, StreamingResponse)
    finally:
        if not deferred:
            state.in_flight -= 1
            waits = state.finish(ctx)
    await written(waits)
    return response


async def _answer(
    ctx: RequestContext, state: GatewayState, request: Request, work: Work
) -> Response:
    """``work``'s response, or the error it raised in the client's dialect."""
    try:
        return await work(ctx, state, request)
    except SecureLLMError as exc:
        ctx.status, ctx.error, ctx.outcome = exc.status, exc.message, outcome_of(exc)
        headers = {**ctx.response_headers, "x-request-id": ctx.request_id}
        return error_response(exc, ctx.dialect, headers)
    except ClientDisconnect:
        ctx.status, ctx.error, ctx.outcome = 499, "client disconnected", "client_gone"
        return Response(status_code=499)
    except Exception:
        log.exception("unhandled error", extra={"request_id": ctx.request_id})
        ctx.status, ctx.error, ctx.outcome = 500, "internal error", "failed"
        internal = SecureLLMError(f"internal error (request id {ctx.request_id})")
        return error_response(internal, ctx.dialect, {"x-request-id": ctx.request_id})


async def written(waits: list[Awaitable[None]]) -> None:
    """Wait for the writes a finished request joined (the audit record in its file)."""
    for wait in waits:
        await wait


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
    return RelayResponse(ctx, state, upstream, headers)


class RelayResponse(StreamingResponse):
    """A relayed stream whose request is settled exactly once, however the response ends.

    Starlette never starts the body iterator when the client left before the first byte
    (its ``finally`` would not run: no audit record, a budget reservation and a
    concurrency slot held for good), and leaves it suspended when the client leaves
    mid-stream (settled only when it is collected). Both are closed here.
    """

    def __init__(
        self,
        ctx: RequestContext,
        state: GatewayState,
        upstream: UpstreamResponse,
        headers: dict[str, str],
    ) -> None:
        self._request = (ctx, state, upstream)
        self._began = False
        events = relay(ctx, state, upstream, on_start=self._start)
        super().__init__(events, upstream.status, headers=headers, media_type=upstream.media_type)

    def _start(self) -> None:
        self._began = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]
                if not self._began:
                    ctx, state, upstream = self._request
                    ctx.outcome, ctx.error = "client_gone", "client disconnected before the stream"
                    await _settle(ctx, state, upstream, None)


async def relay(
    ctx: RequestContext,
    state: GatewayState,
    upstream: UpstreamResponse,
    *,
    on_start: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    """Forward a stream and record its outcome when it ends, however it ends.

    The terminal event (``data: [DONE]``, ``event: message_stop``) is held back until the
    request's audit record is written. A stream that stops without it, or whose provider
    raised, ends with the dialect's error event; one the provider ended with its own error
    event (``upstream.failure``) gets nothing more. ``on_start`` is called once the
    generator runs (see :class:`RelayResponse`).
    """
    assert upstream.stream is not None
    if on_start is not None:
        on_start()
    kept = bytearray() if ctx.key is not None and ctx.key.log_content else None
    held: list[bytes] = []
    settled = False
    try:
        broken = False
        try:
            async for chunk in upstream.stream:
                if ctx.first_byte_at is None:
                    ctx.first_byte_at = time.perf_counter()
                if kept is not None and len(kept) < CONTENT_LIMIT:
                    kept += chunk
                if held or _terminal(chunk, ctx.dialect):
                    held.append(chunk)
                else:
                    yield chunk
        except Exception:  # a bug or a broken upstream inside the provider's stream
            log.exception("stream failed", extra={"request_id": ctx.request_id})
            broken = True
        ending = _ending(ctx, upstream, broken, bool(held))
        waits = await _settle(ctx, state, upstream, kept)
        settled = True
        await written(waits)
        for chunk in held:
            yield chunk
        if ending:
            yield ending
    finally:
        if not settled:
            ctx.outcome, ctx.error = "client_gone", "client disconnected mid-stream"
            await _settle(ctx, state, upstream, kept)


def _terminal(chunk: bytes, dialect: Dialect) -> bool:
    """Whether ``chunk`` holds the stream's last event (at the start of a line, so a model
    that writes the words in its text is not mistaken for it)."""
    markers = TERMINAL[dialect]
    return chunk.startswith(markers) or any(b"\n" + marker in chunk for marker in markers)


def _ending(
    ctx: RequestContext, upstream: UpstreamResponse, broken: bool, terminated: bool
) -> bytes:
    """Set the stream's outcome; return the error event it still needs, if any."""
    if broken:
        ctx.outcome, ctx.error = "failed", "the provider's stream failed"
        message = f"the stream from provider {ctx.provider!r} failed (request id {ctx.request_id})"
        return b"" if terminated else _closing(ctx, upstream, message)
    if upstream.failure is not None:
        ctx.outcome, ctx.error = "failed", upstream.failure
        return b""
    if not upstream.complete and not terminated:
        ctx.outcome, ctx.error = "incomplete", INCOMPLETE
        message = f"provider {ctx.provider!r}: {INCOMPLETE} (request id {ctx.request_id})"
        return _closing(ctx, upstream, message)
    return b""


def _closing(ctx: RequestContext, upstream: UpstreamResponse, message: str) -> bytes:
    """The error event that ends a stream: the stream's own closer, else the dialect's."""
    if upstream.closer is not None:
        return upstream.closer(message)
    return stream_error(ctx.dialect, message)


def stream_error(dialect: Dialect, message: str) -> bytes:
    """The dialect's error event: OpenAI's error object then ``[DONE]``, Anthropic's
    ``event: error``, or the Responses API's ``error`` event."""
    if dialect == "anthropic":
        return anthropic_error_sse(message)
    if dialect == "responses":
        return responses_error_sse(message)
    return openai_error_sse(message) + OPENAI_DONE


async def _settle(
    ctx: RequestContext,
    state: GatewayState,
    upstream: UpstreamResponse,
    kept: bytearray | None,
) -> list[Awaitable[None]]:
    """Close the upstream, take its usage, and hand the request to the sinks."""
    if kept:
        _keep_response(ctx, bytes(kept))
    # Shielded: a client that left cancels the response's scope, and anyio would cancel
    # this await too, before the request reached its sinks.
    with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
        await upstream.stream.aclose()  # type: ignore[union-attr]
    ctx.usage = upstream.usage
    state.in_flight -= 1
    return state.finish(ctx)
