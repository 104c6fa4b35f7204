"""Everything known about one request, from arrival to the audit record."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from securellm.gateway.keys import KeyRecord
from securellm.providers.base import Usage

Outcome = Literal[
    "ok",
    "refused",
    "rate_limited",
    "failed",
    "timed_out",
    "client_gone",
    "cache_hit",
    "incomplete",  # a stream the upstream ended before its terminal event
]


# ASGI scope keys: the request id the request log gave the request, and the pipeline's
# context, which the request log reads once the response is out.
REQUEST_ID_SCOPE = "securellm.request_id"
CONTEXT_SCOPE = "securellm.context"


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex


@dataclass
class RequestContext:
    """Mutable per-request facts; the audit trail and metrics read it once at the end."""

    endpoint: str
    dialect: Literal["openai", "anthropic", "responses"] = "openai"
    request_id: str = field(default_factory=new_request_id)
    started_wall: float = field(default_factory=time.time)  # seconds since the epoch
    started: float = field(default_factory=time.perf_counter)
    client_ip: str | None = None
    key: KeyRecord | None = None
    model: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    stream: bool = False
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    status: int = 200
    outcome: Outcome = "ok"
    error: str | None = None
    cache_hit: bool = False
    no_cache: bool = False
    first_byte_at: float | None = None
    attempts: int = 0
    content: dict[str, Any] | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    forward_headers: dict[str, str] = field(default_factory=dict)
    server_tools: Literal["drop", "refuse"] = "drop"
    reservation: Any = None

    @property
    def duration_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


class OutcomeSink(Protocol):
    """Receives each finished request exactly once (audit trail, metrics, spend).

    A sink that must see the request through before the client does (the durable audit
    trail) returns what the response's last byte waits for; the others return ``None``.
    """

    def record(self, ctx: RequestContext) -> Awaitable[None] | None: ...
