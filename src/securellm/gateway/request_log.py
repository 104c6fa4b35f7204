"""The request log: one JSON line per HTTP request on stdout, whatever answered it.

:class:`RequestLog` is the outermost ASGI middleware, so unknown routes (404), wrong
methods (405), header limits (431) and every refusal before the pipeline get a line too.
It gives each request its id (the pipeline's :class:`RequestContext` takes it, and a
response without an ``x-request-id`` header gets one) and writes the line once the
response's last byte is out: for a stream, when it ends, with its real tokens and outcome.

What is never written: the query string, headers, bodies (except the ``type``, ``code`` and
redacted message of an error answer) and the key itself (only its name).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from securellm.core.log_lines import LineWriter
from securellm.core.logging import request_id_var
from securellm.gateway.context import (
    CONTEXT_SCOPE,
    REQUEST_ID_SCOPE,
    RequestContext,
    new_request_id,
)

LOGGER = "securellm.access"
ERROR_BODY_LIMIT = 8 * 1024  # bytes of an error answer read for its type and code
MESSAGE_LIMIT = 300  # characters of an error message kept
PATH_LIMIT = 512
LINE = orjson.OPT_APPEND_NEWLINE


@dataclass
class Exchange:
    """What the middleware saw of one request on its way out."""

    method: str
    path: str
    started_wall: float
    started: float
    request_id: str
    status: int | None = None
    error_body: bytearray | None = None


class RequestLog:
    """ASGI middleware writing one line per HTTP request to ``writer``."""

    def __init__(
        self, app: ASGIApp, writer: LineWriter, redact: Callable[[str], str] = lambda t: t
    ) -> None:
        self.app = app
        self.writer = writer
        self.redact = redact

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = Exchange(
            scope["method"], scope["path"], time.time(), time.perf_counter(), new_request_id()
        )
        scope[REQUEST_ID_SCOPE] = seen.request_id
        request_id_var.set(seen.request_id)

        async def observe(message: Message) -> None:
            await send(self._observed(scope, seen, message))

        try:
            await self.app(scope, receive, observe)
        except BaseException as exc:
            if seen.status is None:  # nothing was sent: the server answers 500 or hangs up
                seen.status = 500 if isinstance(exc, Exception) else 499
            raise
        finally:
            self.writer.write(self.line(seen, scope.get(CONTEXT_SCOPE)))

    def _observed(self, scope: Scope, seen: Exchange, message: Message) -> Message:
        if message["type"] == "http.response.start":
            seen.status = message["status"]
            if seen.status >= 400:
                seen.error_body = bytearray()
            if CONTEXT_SCOPE not in scope:  # the pipeline sets its own header
                header = (b"x-request-id", seen.request_id.encode())
                return {**message, "headers": [*message.get("headers", ()), header]}
        elif seen.error_body is not None and len(seen.error_body) < ERROR_BODY_LIMIT:
            seen.error_body += message.get("body", b"")
        return message

    def line(self, seen: Exchange, ctx: RequestContext | None) -> bytes:
        """The JSON line for one finished request."""
        status = seen.status if seen.status is not None else 500
        duration_ms = (time.perf_counter() - seen.started) * 1000.0
        path = self.redact(seen.path[:PATH_LIMIT])
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(seen.started_wall, UTC).isoformat(timespec="milliseconds"),
            "level": "info",
            "logger": LOGGER,
            "message": f"{seen.method} {path} {status}",
            "request_id": seen.request_id,
            "method": seen.method,
            "path": path,
            "status": status,
            "duration_ms": round(duration_ms, 2),
            **_pipeline_fields(ctx, status),
        }
        if status >= 400 or entry["outcome"] not in ("ok", "cache_hit"):
            entry.update(self._error_fields(seen, ctx))
        return orjson.dumps(entry, option=LINE)

    def _error_fields(self, seen: Exchange, ctx: RequestContext | None) -> dict[str, Any]:
        kind, code, message = _error_of(bytes(seen.error_body or b""))
        if message is None and ctx is not None:
            message = ctx.error
        if message is not None:
            message = self.redact(message[:MESSAGE_LIMIT])
        return {"error_type": kind, "error_code": code, "error": message}


def _pipeline_fields(ctx: RequestContext | None, status: int) -> dict[str, Any]:
    """Key name, model, provider, tokens, cache and outcome (null outside the pipeline)."""
    if ctx is None:
        outcome = "ok" if status < 400 else "refused" if status < 500 else "failed"
        return {
            "key": None,
            "model": None,
            "provider": None,
            "stream": False,
            "prompt_tokens": None,
            "completion_tokens": None,
            "cache_hit": False,
            "outcome": outcome,
        }
    return {
        "key": ctx.key.name if ctx.key is not None else None,
        "model": ctx.model,
        "provider": ctx.provider,
        "stream": ctx.stream,
        "prompt_tokens": ctx.usage.prompt_tokens,
        "completion_tokens": ctx.usage.completion_tokens,
        "cache_hit": ctx.cache_hit,
        "outcome": ctx.outcome,
    }


def _error_of(body: bytes) -> tuple[str | None, str | None, str | None]:
    """``(type, code, message)`` of an OpenAI- or Anthropic-shaped error answer."""
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None, None, None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return None, None, None
    kind, code, message = error.get("type"), error.get("code"), error.get("message")
    return (
        kind if isinstance(kind, str) else None,
        str(code) if isinstance(code, (str, int)) else None,
        message if isinstance(message, str) else None,
    )
