"""One audit record per request, built from its :class:`RequestContext`."""

from __future__ import annotations

import time
import uuid
from typing import Any

from securellm.core.redact import redact, redact_value
from securellm.gateway.context import RequestContext

CONTENT_FIELDS = ("system", "messages", "prompt", "input", "tools")
MAX_ERROR = 500


class _Clock:
    """ISO 8601 UTC timestamps with microseconds; the date and time part is formatted once
    per second (``datetime.isoformat`` on an aware datetime costs microseconds per call)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def format(self, wall: float) -> str:
        second = int(wall)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        micros = min(round((wall - second) * 1_000_000), 999_999)
        return f"{self._prefix}.{micros:06d}Z"


utc_timestamp = _Clock().format


def event_type(ctx: RequestContext) -> str:
    family = "admin" if ctx.endpoint.startswith("admin") else "request"
    return f"{family}.{ctx.outcome}"


def request_content(body: dict[str, Any]) -> dict[str, Any]:
    """The parts of a request body that hold the prompt (OpenAI and Anthropic shapes)."""
    return {name: body[name] for name in CONTENT_FIELDS if name in body}


def build(ctx: RequestContext) -> dict[str, Any]:
    """The record's fields (without ``seq``/``prev_hash``/``hash``, which the writer adds)."""
    key = ctx.key
    usage = ctx.usage
    record: dict[str, Any] = {
        "timestamp": utc_timestamp(ctx.started_wall),
        "request_id": ctx.request_id,
        "event_type": event_type(ctx),
        "endpoint": ctx.endpoint,
        "key_id": key.id if key else None,
        "key_name": key.name if key else None,
        "client_ip": ctx.client_ip,
        "provider": ctx.provider,
        "model": ctx.model,
        "upstream_model": ctx.upstream_model,
        "stream": ctx.stream,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.cached_tokens,
        "cost_usd": round(ctx.cost_usd, 8) if ctx.cost_usd else 0.0,
        "duration_ms": round(ctx.duration_ms, 3),
        "status": ctx.status,
        "outcome": ctx.outcome,
        "error": redact(ctx.error)[:MAX_ERROR] if ctx.error else None,
        "cache_hit": ctx.cache_hit,
    }
    if key is not None and key.log_content and ctx.content:
        record["content"] = redact_value(ctx.content)
    return record


def system(event: str, outcome: str, **fields: Any) -> dict[str, Any]:
    """A record the trail writes about itself (``audit.repair``), shaped like a request's."""
    record: dict[str, Any] = {
        "timestamp": utc_timestamp(time.time()),
        "request_id": "audit_" + uuid.uuid4().hex,
        "event_type": event,
        "endpoint": None,
        "key_id": None,
        "key_name": None,
        "client_ip": None,
        "provider": None,
        "model": None,
        "upstream_model": None,
        "stream": False,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "cached_tokens": 0,
        "cost_usd": 0.0,
        "duration_ms": 0.0,
        "status": 0,
        "outcome": outcome,
        "error": None,
        "cache_hit": False,
    }
    record.update(fields)
    return record
