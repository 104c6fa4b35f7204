"""Send a call to a route's targets: cache, breaker, retries with backoff, then fallback.

For each target (in the order the alias's strategy gives): skip it when its circuit is
open; try it up to ``retry.attempts`` times while the error is retryable and the request
deadline allows; then move to the next target when the error warrants a fallback. A
stream is returned once its headers arrive, so no retry ever follows a byte sent to the
client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Literal

from securellm.core.errors import (
    RateLimited,
    SecureLLMError,
    ServiceUnavailable,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from securellm.gateway.cache.response_cache import ResponseCache
from securellm.gateway.catalog import Route, Target
from securellm.gateway.context import RequestContext
from securellm.gateway.resilience.breaker import BreakerStore, MemoryBreakers
from securellm.gateway.resilience.hosts import HostProbe
from securellm.gateway.resilience.retry import delay_before_retry, is_retryable
from securellm.gateway.resilience.routing import LOADED_FIRST, TargetStats, by_host, ordered_targets
from securellm.providers.base import JSON, Call, UpstreamResponse

Operation = Literal["chat", "completions", "embeddings", "messages", "count_tokens", "responses"]
FALLBACK_ON = (UpstreamUnavailable, UpstreamTimeout, RateLimited, ServiceUnavailable)
_CONTEXT_WINDOW = ("context length", "context_length", "maximum context", "prompt is too long")
_CONTENT_POLICY = ("content policy", "content_policy", "content management", "safety system")


def error_class(exc: SecureLLMError) -> str | None:
    """``context_window`` or ``content_policy`` for the upstream 4xx errors that mean so."""
    if not isinstance(exc, UpstreamError) or exc.status >= 500:
        return None
    text = exc.message.lower()
    if any(marker in text for marker in _CONTEXT_WINDOW):
        return "context_window"
    if any(marker in text for marker in _CONTENT_POLICY):
        return "content_policy"
    return None


def can_fall_back(exc: SecureLLMError, route: Route) -> bool:
    if isinstance(exc, FALLBACK_ON):
        return True
    if isinstance(exc, UpstreamError) and exc.status >= 500:
        return True
    kind = error_class(exc)
    return kind is not None and kind in route.fallback_on


def breaker_counts(exc: SecureLLMError) -> bool:
    """Failures that say the deployment is unhealthy (not the caller's fault, not a 429)."""
    if isinstance(exc, (UpstreamUnavailable, UpstreamTimeout)):
        return True
    return isinstance(exc, UpstreamError) and exc.status >= 500


class Dispatcher:
    """Calls a provider operation for a route, with the resilience policy of each provider."""

    def __init__(
        self,
        *,
        request_timeout_s: float = 600.0,
        breakers: BreakerStore | None = None,
        cache: ResponseCache | None = None,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.request_timeout_s = request_timeout_s
        self.breakers: BreakerStore = breakers or MemoryBreakers()
        self.cache = cache
        self.stats = TargetStats()
        self.hosts = HostProbe()
        self.on_retry = on_retry or (lambda _provider: None)

    async def dispatch(
        self, ctx: RequestContext, route: Route, op: Operation, body: JSON, stream: bool
    ) -> UpstreamResponse:
        key = self.cache.key_for(ctx, op, body) if self.cache else None
        if key is not None and self.cache is not None:
            hit = await self.cache.lookup(key)
            if hit is not None:
                ctx.cache_hit, ctx.outcome = True, "cache_hit"
                ctx.provider, ctx.upstream_model = hit.provider, hit.model
                return self.cache.replay(hit)
        deadline = time.monotonic() + self.request_timeout_s
        last: SecureLLMError | None = None
        for target in await self.order(route):
            try:
                result = await self._try_target(ctx, target, op, body, stream, deadline)
            except SecureLLMError as exc:
                last = exc
                if not can_fall_back(exc, route):
                    raise
                continue
            if key is not None and self.cache is not None:
                result = self.cache.record(key, target.provider.name, target.model, result)
            return result
        assert last is not None
        raise last

    async def order(self, route: Route) -> list[Target]:
        """The route's targets in the order its strategy gives (offload hosts: probed)."""
        if route.strategy == LOADED_FIRST and len(route.targets) > 1:
            views = await self.hosts.views([t.provider for t in route.targets])
            return by_host(route.targets, views)
        return ordered_targets(route, self.stats)

    async def _try_target(
        self,
        ctx: RequestContext,
        target: Target,
        op: Operation,
        body: JSON,
        stream: bool,
        deadline: float,
    ) -> UpstreamResponse:
        provider = target.provider
        policy = provider.settings
        breaker = policy.breaker.enabled
        allowed, wait_s = (
            await self.breakers.allow(provider.name, policy.breaker) if breaker else (True, 0.0)
        )
        if not allowed:
            raise ServiceUnavailable(
                f"provider {provider.name!r} is unavailable: its circuit is open after repeated "
                f"failures; retrying in {wait_s:.0f}s",
                headers={"retry-after": str(max(1, round(wait_s)))},
            )
        attempt = 0
        while True:
            try:
                result = await self.call_target(ctx, target, op, body, stream, deadline)
            except SecureLLMError as exc:
                if breaker and breaker_counts(exc):
                    await self.breakers.failure(provider.name, policy.breaker)
                attempt += 1
                remaining = deadline - time.monotonic()
                delay = None
                if attempt < policy.retry.attempts and is_retryable(exc, policy.retry):
                    delay = delay_before_retry(exc, attempt - 1, policy.retry, remaining)
                if delay is None:
                    raise
                self.on_retry(provider.name)
                await asyncio.sleep(delay)
                continue
            if breaker:
                await self.breakers.success(provider.name)
            return result

    async def call_target(
        self,
        ctx: RequestContext,
        target: Target,
        op: Operation,
        body: JSON,
        stream: bool,
        deadline: float,
    ) -> UpstreamResponse:
        """One attempt, bounded by the request deadline (until headers, for a stream)."""
        ctx.provider = target.provider.name
        ctx.upstream_model = target.model
        ctx.attempts += 1
        call = Call(
            model=target.model,
            body=body,
            stream=stream,
            request_id=ctx.request_id,
            headers=ctx.forward_headers,
            server_tools=ctx.server_tools,
        )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamTimeout("the request deadline passed before the provider answered")
        self.stats.started(target)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(remaining):
                result: UpstreamResponse = await getattr(target.provider, op)(call)
        except TimeoutError:
            self.stats.ended(target)
            raise UpstreamTimeout(
                f"provider {target.provider.name!r} did not answer before the request deadline"
            ) from None
        except BaseException:
            self.stats.ended(target)
            raise
        self.stats.observe(target, (time.perf_counter() - started) * 1000.0)
        if result.stream is None:
            self.stats.ended(target)
        else:
            result.stream = self._track(target, result.stream)
        return result

    async def _track(self, target: Target, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Count a stream as in flight until it ends (for least-busy routing)."""
        try:
            async for event in stream:
                yield event
        finally:
            self.stats.ended(target)
