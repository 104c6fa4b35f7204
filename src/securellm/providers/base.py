"""The provider interface the gateway dispatches to.

A provider speaks one upstream dialect natively and offers the gateway three client
dialects: OpenAI (chat, completions, embeddings), OpenAI's Responses API (responses) and
Anthropic (messages). When client and upstream speak the same dialect, bytes pass through
untouched and only ``usage`` is read on the side; otherwise the provider translates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from securellm.core.config import ProviderSettings
from securellm.core.errors import InvalidRequest

JSON = dict[str, Any]


@dataclass
class Usage:
    """Token counts of one call; filled when the body or the stream is complete."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class UpstreamResponse:
    """What a provider returns: a whole body, or a stream of ready-to-send SSE events.

    For a stream, ``usage`` is complete once ``stream`` is exhausted; ``complete`` tells
    whether the stream reached its natural end. ``failure`` is set by a stream that ended
    itself with an error event in the client's dialect (the upstream broke the stream or
    sent an event that cannot be read): the edge then records the request as failed and
    adds no error event of its own. A stream that ends neither complete nor failed is cut
    short; the edge closes it with the dialect's error event, or with ``closer(message)``
    when the stream set one (a dialect whose events are numbered, like the Responses API's,
    ends with an event only the stream itself can number).
    """

    status: int = 200
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None
    usage: Usage = field(default_factory=Usage)
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    complete: bool = False
    failure: str | None = None
    closer: Callable[[str], bytes] | None = None


@dataclass(frozen=True)
class Call:
    """One upstream call: the upstream model name and the client's parsed body."""

    model: str
    body: JSON
    stream: bool
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)  # client headers meant for upstream
    server_tools: Literal["drop", "refuse"] = "drop"  # Anthropic server tools, no such upstream


class Provider:
    """Base class: every operation a dialect offers, refused unless a subclass implements it."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.name = settings.name
        # Model name -> context window in tokens, as the upstream reported it at discovery
        # (local servers: the context they were loaded with); empty when it says nothing.
        self.context_windows: dict[str, int] = {}

    async def start(self) -> None:
        """Open connection pools; called once from the gateway's lifespan."""

    async def close(self) -> None:
        """Close connection pools."""

    async def list_models(self) -> list[str]:
        """Model names the upstream offers (for discovery)."""
        return list(self.settings.models or ())

    async def chat(self, call: Call) -> UpstreamResponse:
        """OpenAI ``/v1/chat/completions`` semantics."""
        raise self._unsupported("chat completions")

    async def completions(self, call: Call) -> UpstreamResponse:
        """OpenAI ``/v1/completions`` semantics."""
        raise self._unsupported("text completions")

    async def embeddings(self, call: Call) -> UpstreamResponse:
        """OpenAI ``/v1/embeddings`` semantics."""
        raise self._unsupported("embeddings")

    async def messages(self, call: Call) -> UpstreamResponse:
        """Anthropic ``/v1/messages`` semantics."""
        raise self._unsupported("the Anthropic messages API")

    async def responses(self, call: Call) -> UpstreamResponse:
        """OpenAI ``/v1/responses`` semantics (stateless: the gateway keeps the state)."""
        raise self._unsupported("the Responses API")

    async def count_tokens(self, call: Call) -> UpstreamResponse:
        """Anthropic ``/v1/messages/count_tokens`` semantics."""
        raise self._unsupported("token counting")

    def _unsupported(self, what: str) -> InvalidRequest:
        return InvalidRequest(
            f"provider {self.name!r} ({self.settings.kind}) does not support {what}"
        )
