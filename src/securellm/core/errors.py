"""The exception hierarchy every component raises, rendered once at the HTTP edge.

Each error knows its HTTP status and its OpenAI ``type``/``code``; the edges
(``gateway.errors``) turn it into the OpenAI or Anthropic JSON shape. Messages are
written for the user and never contain secrets.
"""

from __future__ import annotations


class SecureLLMError(Exception):
    """Base of every error this package raises on purpose."""

    status: int = 500
    error_type: str = "api_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}


class InvalidRequest(SecureLLMError):
    status = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class UnprocessableRequest(InvalidRequest):
    status = 422
    code = "invalid_schema"


class PayloadTooLarge(InvalidRequest):
    status = 413
    code = "payload_too_large"


class AuthenticationFailed(SecureLLMError):
    status = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(SecureLLMError):
    status = 403
    error_type = "permission_error"
    code = "model_not_allowed"


class NotFound(SecureLLMError):
    status = 404
    error_type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class RateLimited(SecureLLMError):
    status = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceeded(SecureLLMError):
    status = 429
    error_type = "insufficient_quota"
    code = "budget_exceeded"


class UpstreamError(SecureLLMError):
    """The provider answered with an error; ``status`` mirrors what it said when sensible."""

    status = 502
    error_type = "upstream_error"
    code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message, param=param, headers=headers)
        self.status = status
        self.upstream_status = upstream_status if upstream_status is not None else status


class UpstreamUnavailable(SecureLLMError):
    status = 502
    error_type = "upstream_error"
    code = "upstream_unavailable"


class UpstreamTimeout(SecureLLMError):
    status = 504
    error_type = "timeout_error"
    code = "upstream_timeout"


class ServiceUnavailable(SecureLLMError):
    status = 503
    error_type = "service_unavailable"
    code = "service_unavailable"


class InsufficientStorage(SecureLLMError):
    """A model can never fit the GPU (offload)."""

    status = 507
    error_type = "insufficient_storage"
    code = "model_too_large"
