"""Fit a request's output limit to the model before anything is reserved against it.

A client that asks for more output than the model can write (Claude Code's 32,000 toward
DeepSeek's 8K, or toward a local model loaded with a 4K context) is sent with the most the
model takes instead: ``min(max output, context window - the prompt's estimated tokens)``,
the smallest over the route's targets. The response says so in ``x-securellm-max-tokens``
(``lowered 32000 -> 8192 (model limit)``), and limits and budgets reserve the lowered
figure. A prompt whose estimate alone fills every target's context window is refused with
a 400 in the client's dialect; a model whose limits are unknown is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from securellm.core.errors import InvalidRequest
from securellm.gateway.catalog import Route, Target
from securellm.gateway.context import RequestContext
from securellm.gateway.limits import estimate
from securellm.gateway.model_limits import ModelLimitTable
from securellm.providers.base import JSON

LIMIT_HEADER = "x-securellm-max-tokens"
NO_OUTPUT = frozenset({"embeddings", "count_tokens"})


class ContextExceeded(InvalidRequest):
    """The prompt alone is longer than the model's context window."""

    code = "context_length_exceeded"


@dataclass(frozen=True)
class Room:
    """The most output one target takes for this prompt, and what bounds it."""

    tokens: int
    reason: str


def room_on(target: Target, limits: ModelLimitTable, prompt: int) -> Room | None:
    """What ``target`` can write after a prompt of ``prompt`` tokens (``None``: unknown)."""
    provider = target.provider
    found = limits.limits(provider.name, target.model, provider.context_windows.get(target.model))
    rooms: list[Room] = []
    if found.max_output:
        rooms.append(Room(found.max_output, "model limit"))
    if found.context:
        rooms.append(Room(found.context - prompt, f"context window {found.context}"))
    return min(rooms, key=lambda r: r.tokens) if rooms else None


def fit_output(ctx: RequestContext, route: Route, body: JSON, limits: ModelLimitTable) -> None:
    """Lower the request's output limit to what its route's models take, in place."""
    if ctx.endpoint in NO_OUTPUT:
        return
    asked = estimate.output_field(body)
    if asked is None:
        return
    field, tokens = asked
    prompt = estimate.prompt_tokens(body)
    rooms = [room_on(target, limits, prompt) for target in route.targets]
    known = [room for room in rooms if room is not None]
    if not known:
        return
    fitting = [room for room in known if room.tokens >= 1]
    if not fitting:
        raise _too_long(route, prompt, known)
    tightest = min(fitting, key=lambda r: r.tokens)
    if tokens <= tightest.tokens:
        return
    body[field] = tightest.tokens
    ctx.response_headers[LIMIT_HEADER] = (
        f"lowered {tokens} -> {tightest.tokens} ({tightest.reason})"
    )


def _too_long(route: Route, prompt: int, rooms: list[Room]) -> ContextExceeded:
    window = max(room.tokens for room in rooms) + prompt
    return ContextExceeded(
        f"the prompt is about {prompt} tokens (estimated), which leaves no room for output in "
        f"the context window of model {route.requested!r} ({window} tokens); shorten the "
        "messages",
        param="messages",
    )
