"""Every operation the gateway serves, with the answers it really gives.

A new route gets one entry here; ``tests/gateway/test_openapi.py`` fails, naming the
route, until it has one.
"""

from __future__ import annotations

from pydantic import BaseModel

from securellm.core.openapi import Operation, Param, Reply, Schema
from securellm.gateway.openapi import ops_models as ops
from securellm.gateway.openapi import wire, wire_responses
from securellm.gateway.openapi.ops_responses import stored_response_operations
from securellm.gateway.routes.admin import KeyRequest, KeyUpdateRequest
from securellm.gateway.routes.audit import MAX_INT

KEYED = ("bearer", "apiKey")
# OpenAPI 3.1 reads an event stream's schema as the schema of each event.
SSE_EVENT: Schema = {
    "type": "object",
    "description": "one server-sent event: `data` is a JSON chunk (OpenAI ends with `[DONE]`)",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
SSE: dict[str, Schema] = {"text/event-stream": SSE_EVENT}
TEXT: dict[str, Schema] = {"text/plain": {"type": "string"}}
RETRY = {"retry-after": "seconds to wait before trying again"}
ANSWER_HEADERS = {
    "x-request-id": "the request's id in the audit trail",
    "x-securellm-provider": "the provider that answered",
}

WHY = {
    400: "the body is not JSON, a field is wrong, or the provider cannot do this",
    401: "the key is missing, unknown, revoked or expired",
    403: "the key may not do this (a model it may not use, or an admin endpoint)",
    404: "no such model, alias or key",
    409: "a key with that name exists, or the name matches several keys",
    413: "the body is larger than the configured limit",
    422: "the body is JSON but not the expected shape",
    429: "a rate limit or a budget of the key refused the request",
    431: "the request headers are too large or too many",
    502: "the upstream failed, or answered with an error",
    503: "the upstream is unavailable (open circuit, or it answered 503)",
    504: "the upstream did not answer in time",
}


def _errors(model: type[BaseModel], *statuses: int) -> tuple[Reply, ...]:
    return tuple(
        Reply(status, WHY[status], model, headers=RETRY if status in (429, 503) else {})
        for status in (*statuses, 431)
    )


HEADER_VERSION = Param("anthropic-version", "header", "Anthropic clients send it (`2023-06-01`)")
HEADER_BETA = Param("anthropic-beta", "header", "forwarded to Anthropic upstreams")
HEADER_CACHE = Param("cache-control", "header", "`no-cache` or `no-store` skips the response cache")
INFERENCE_ERRORS = (400, 401, 403, 404, 413, 429, 502, 503, 504)


def _inference(
    path: str,
    operation_id: str,
    summary: str,
    body: type[BaseModel],
    answer: type[BaseModel],
    *,
    anthropic: bool = False,
    stream: bool = True,
) -> Operation:
    error = wire.AnthropicError if anthropic else wire.OpenAIError
    statuses = INFERENCE_ERRORS if anthropic else (*INFERENCE_ERRORS, 422)
    headers = (HEADER_VERSION, HEADER_BETA, HEADER_CACHE) if anthropic else (HEADER_CACHE,)
    ok = Reply(200, "the upstream's answer", answer, SSE if stream else {}, ANSWER_HEADERS)
    return Operation(
        "POST",
        path,
        operation_id,
        summary,
        "anthropic" if anthropic else "openai",
        (ok, *_errors(error, *sorted(statuses))),
        body=body,
        params=headers,
        security=("apiKey", "bearer") if anthropic else KEYED,
    )


def _admin(
    route: str,
    operation_id: str,
    summary: str,
    answer: Reply,
    statuses: tuple[int, ...] = (),
    body: type[BaseModel] | None = None,
    params: tuple[Param, ...] = (),
) -> Operation:
    """An admin operation: ``route`` is ``"METHOD /path"``; 401 and 403 always apply."""
    method, path = route.split(" ")
    replies = (answer, *_errors(wire.OpenAIError, *sorted({401, 403, *statuses})))
    return Operation(
        method, path, operation_id, summary, "admin", replies, body, params=params, security=KEYED
    )


KEY_ID = Param("key_id", "path", "the key's id, or its name when no other key has that name")
TIME = {"type": "string", "description": "Unix seconds, an ISO date/time, or an age (15m, 24h, 7d)"}
COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_INT}
AUDIT_PARAMS = (
    Param("since", "query", "first time included", TIME),
    Param("until", "query", "first time left out", TIME),
    Param("key", "query", "a key id or name"),
    Param("model", "query", "a model as requested"),
    Param("provider", "query", "a provider name"),
    Param("status", "query", "an HTTP status", COUNT),
    Param("outcome", "query", "ok, refused, rate_limited, failed, ..."),
    Param("limit", "query", "at most this many, newest first (at most 10000)", COUNT),
)
SPEND_PARAMS = (
    Param("group_by", "query", "how rows are grouped", {"enum": ["key", "model", "provider"]}),
    Param("since", "query", "first time included (default: 30 days ago)", TIME),
    Param("until", "query", "first time left out (default: now)", TIME),
    Param("key", "query", "only this key (id or name)"),
)


def _inference_operations() -> list[Operation]:
    return [
        _inference(
            "/v1/chat/completions",
            "createChatCompletion",
            "OpenAI chat (streaming with SSE, tools)",
            wire.ChatCompletionRequest,
            wire.ChatCompletion,
        ),
        _inference(
            "/v1/completions",
            "createCompletion",
            "OpenAI text completion",
            wire.CompletionRequest,
            wire.Completion,
        ),
        _inference(
            "/v1/embeddings",
            "createEmbedding",
            "OpenAI embeddings",
            wire.EmbeddingRequest,
            wire.EmbeddingList,
            stream=False,
        ),
        _inference(
            "/v1/responses",
            "createResponse",
            "OpenAI Responses API (streaming with SSE, tools, stored state per key)",
            wire_responses.ResponseRequest,
            wire_responses.ResponseObject,
        ),
        _inference(
            "/v1/messages",
            "createMessage",
            "Anthropic Messages (streaming with SSE, tools)",
            wire.MessagesRequest,
            wire.Message,
            anthropic=True,
        ),
        _inference(
            "/v1/messages/count_tokens",
            "countMessageTokens",
            "Anthropic token count",
            wire.CountTokensRequest,
            wire.TokenCount,
            anthropic=True,
            stream=False,
        ),
        Operation(
            "GET",
            "/v1/models",
            "listModels",
            "models and aliases this key may use (Anthropic's page with anthropic-version)",
            "openai",
            (Reply(200, "the models", wire.Models), *_errors(wire.EitherError, 401)),
            params=(HEADER_VERSION,),
            security=KEYED,
        ),
    ]


def _admin_operations() -> list[Operation]:
    key = ops.KeyView
    secret = ops.KeyCreated
    body_errors = (400, 409, 413, 422)
    return [
        _admin(
            "GET /admin/keys", "listKeys", "list virtual keys", Reply(200, "every key", ops.KeyList)
        ),
        _admin(
            "POST /admin/keys", "createKey", "create a virtual key",
            Reply(201, "the new key, with its secret shown once", secret), body_errors, KeyRequest,
        ),
        _admin(
            "DELETE /admin/keys/{key_id}", "revokeKey", "revoke a key",
            Reply(200, "the revoked key", key), (404, 409), params=(KEY_ID,),
        ),
        _admin(
            "PATCH /admin/keys/{key_id}", "updateKey", "change limits, budget, expiry or models",
            Reply(200, "the key as changed", key), (*body_errors, 404), KeyUpdateRequest, (KEY_ID,),
        ),
        _admin(
            "POST /admin/keys/{key_id}/regenerate", "regenerateKey",
            "give a key a new secret (the old one stops working at once)",
            Reply(200, "the key with its new secret, shown once", secret), (404, 409),
            params=(KEY_ID,),
        ),
        _admin(
            "GET /admin/audit", "listAuditRecords", "search the audit index",
            Reply(200, "matching records, newest first", ops.AuditPage), (400,),
            params=AUDIT_PARAMS,
        ),
        _admin(
            "GET /admin/spend", "getSpend", "spend and budget use",
            Reply(200, "spend per group, and each budget's use", ops.SpendReport), (400,),
            params=SPEND_PARAMS,
        ),
        _admin(
            "GET /admin/cache", "getCacheStats", "response cache statistics",
            Reply(200, "the cache's counters", ops.CacheStats),
        ),
        _admin(
            "DELETE /admin/cache", "clearCache", "empty the response cache",
            Reply(200, "how many entries were removed", ops.CacheCleared),
        ),
    ]  # fmt: skip


def _public(path: str, operation_id: str, summary: str, *replies: Reply) -> Operation:
    return Operation(
        "GET", path, operation_id, summary, "operations", (*replies, *_errors(wire.OpenAIError))
    )


def _ops(path: str, operation_id: str, summary: str, *replies: Reply) -> Operation:
    """An ops endpoint: open, or behind the master key with ``[gateway] protect_ops``."""
    errors = _errors(wire.OpenAIError, 401, 403)
    return Operation(
        "GET", path, operation_id, summary, "operations", (*replies, *errors),
        security=KEYED, security_optional=True,
    )  # fmt: skip


def _ops_operations() -> list[Operation]:
    document = {"application/json": {"type": "object"}}
    return [
        _public("/health", "health", "liveness", Reply(200, "alive", ops.Health)),
        _ops(
            "/ready",
            "ready",
            "readiness: database, draining, providers, circuits, cache",
            Reply(200, "ready", ops.Readiness),
            Reply(503, "not ready", ops.Readiness),
        ),
        _ops("/metrics", "metrics", "Prometheus metrics", Reply(200, "metrics", media=TEXT)),
        _public(
            "/openapi.json",
            "openapi",
            "this document",
            Reply(200, "the OpenAPI 3.1 document", media=document),
        ),
    ]


def operations() -> list[Operation]:
    """The gateway's whole surface, in the order the document lists it."""
    return [
        *_inference_operations(),
        *stored_response_operations(),
        *_admin_operations(),
        *_ops_operations(),
    ]
