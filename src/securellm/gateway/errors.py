"""Render our exceptions in the client's dialect: OpenAI's or Anthropic's error JSON."""

from __future__ import annotations

from typing import Literal

import orjson
from starlette.responses import Response

from securellm.core.errors import SecureLLMError

Dialect = Literal["openai", "anthropic", "responses"]  # responses: OpenAI's error shape

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    431: "request_too_large",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_body(exc: SecureLLMError, dialect: Dialect) -> bytes:
    if dialect == "anthropic":
        kind = _ANTHROPIC_TYPES.get(exc.status, "api_error")
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": exc.message}})
    return orjson.dumps(
        {
            "error": {
                "message": exc.message,
                "type": exc.error_type,
                "param": exc.param,
                "code": exc.code,
            }
        }
    )


def error_response(
    exc: SecureLLMError, dialect: Dialect = "openai", headers: dict[str, str] | None = None
) -> Response:
    return Response(
        error_body(exc, dialect),
        status_code=exc.status,
        media_type="application/json",
        headers={**exc.headers, **(headers or {})},
    )
