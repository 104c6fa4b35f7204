"""Send a call to the targets of a route: in order, moving on when a target fails."""

from __future__ import annotations

from typing import Literal

from securellm.core.errors import (
    RateLimited,
    SecureLLMError,
    ServiceUnavailable,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from securellm.gateway.catalog import Route, Target
from securellm.gateway.context import RequestContext
from securellm.providers.base import JSON, Call, UpstreamResponse

Operation = Literal["chat", "completions", "embeddings", "messages", "count_tokens"]

# Errors after which the next target of an alias is worth trying.
FALLBACK_ON = (UpstreamUnavailable, UpstreamTimeout, RateLimited, ServiceUnavailable)


def can_fall_back(exc: SecureLLMError) -> bool:
    if isinstance(exc, FALLBACK_ON):
        return True
    return isinstance(exc, UpstreamError) and exc.status >= 500


class Dispatcher:
    """Calls a provider operation for each target in turn until one answers."""

    async def dispatch(
        self, ctx: RequestContext, route: Route, op: Operation, body: JSON, stream: bool
    ) -> UpstreamResponse:
        last: SecureLLMError | None = None
        for target in self.order(route):
            try:
                return await self.call_target(ctx, target, op, body, stream)
            except SecureLLMError as exc:
                last = exc
                if not can_fall_back(exc):
                    raise
        assert last is not None
        raise last

    def order(self, route: Route) -> tuple[Target, ...]:
        return route.targets

    async def call_target(
        self, ctx: RequestContext, target: Target, op: Operation, body: JSON, stream: bool
    ) -> UpstreamResponse:
        ctx.provider = target.provider.name
        ctx.upstream_model = target.model
        ctx.attempts += 1
        call = Call(model=target.model, body=body, stream=stream, request_id=ctx.request_id)
        method = getattr(target.provider, op)
        result: UpstreamResponse = await method(call)
        return result
