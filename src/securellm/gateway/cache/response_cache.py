"""The cache as the dispatcher sees it: look up, replay, and record complete answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from securellm.core.config.resilience import CacheSettings
from securellm.gateway.cache.keys import cache_key
from securellm.gateway.cache.store import CachedResponse, CacheStats, CacheStore
from securellm.gateway.context import RequestContext
from securellm.providers.base import UpstreamResponse, Usage

CACHEABLE_OPS = frozenset({"chat", "completions", "embeddings", "messages"})


def deterministic(op: str, body: dict[str, Any]) -> bool:
    """Whether the same request gives the same answer: embeddings, or ``temperature`` 0.

    A request without ``temperature`` samples at the provider's default (1 for OpenAI and
    Anthropic), so it is not.
    """
    if op == "embeddings":
        return True
    temperature = body.get("temperature")
    return (
        isinstance(temperature, (int, float))
        and not isinstance(temperature, bool)
        and temperature == 0
    )


class ResponseCache:
    def __init__(self, settings: CacheSettings, store: CacheStore) -> None:
        self.settings = settings
        self.store = store
        self.stats = CacheStats()
        self._pending: set[asyncio.Task[None]] = set()

    def key_for(self, ctx: RequestContext, op: str, body: dict[str, Any]) -> str | None:
        """The key for this request, or None when it must not use the cache."""
        if not self.settings.enabled or ctx.no_cache or op not in CACHEABLE_OPS:
            return None
        if ctx.key is not None and not ctx.key.cache_enabled:
            return None
        if not self.settings.nondeterministic and not deterministic(op, body):
            return None
        options = body.get("stream_options")
        usage = isinstance(options, dict) and bool(options.get("include_usage"))
        return cache_key(op, ctx.model or "", body, stream=ctx.stream, usage=usage)

    async def lookup(self, key: str) -> CachedResponse | None:
        try:
            hit = await self.store.get(key)
        except Exception:  # a corrupt entry is a miss, never an error for the client
            self.stats.errors += 1
            hit = None
        if hit is None:
            self.stats.misses += 1
        else:
            self.stats.hits += 1
        return hit

    def replay(self, hit: CachedResponse) -> UpstreamResponse:
        """An upstream-like response built from the cache: same bytes, same usage."""
        usage = Usage(**vars(hit.usage))
        if hit.events is None:
            return UpstreamResponse(body=hit.body, usage=usage, media_type=hit.media_type)
        result = UpstreamResponse(usage=usage, media_type=hit.media_type, complete=True)
        result.stream = _replay(hit.events)
        return result

    def record(
        self, key: str, provider: str, model: str, upstream: UpstreamResponse
    ) -> UpstreamResponse:
        """Store the answer once it is complete; streams are recorded as they pass."""
        if upstream.status != 200:
            return upstream
        if upstream.stream is None:
            entry = CachedResponse(
                provider, model, upstream.usage, upstream.media_type, upstream.body
            )
            self._put_later(key, entry)
            return upstream
        upstream.stream = self._tee(key, provider, model, upstream, upstream.stream)
        return upstream

    async def _tee(
        self,
        key: str,
        provider: str,
        model: str,
        upstream: UpstreamResponse,
        source: AsyncIterator[bytes],
    ) -> AsyncIterator[bytes]:
        events: list[bytes] = []
        size = 0
        async for event in source:
            size += len(event)
            if size <= self.settings.max_entry_bytes:
                events.append(event)
            yield event
        if upstream.complete and size <= self.settings.max_entry_bytes:
            entry = CachedResponse(
                provider, model, upstream.usage, upstream.media_type, events=events
            )
            self._put_later(key, entry)

    def _put_later(self, key: str, entry: CachedResponse) -> None:
        if entry.size() > self.settings.max_entry_bytes:
            return
        task = asyncio.get_running_loop().create_task(self._put(key, entry))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _put(self, key: str, entry: CachedResponse) -> None:
        try:
            await self.store.put(key, entry)
            self.stats.stores += 1
        except Exception:
            self.stats.errors += 1

    async def drain(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def clear(self) -> int:
        return await self.store.clear()

    def describe(self) -> dict[str, Any]:
        lookups = self.stats.hits + self.stats.misses
        return {
            "enabled": self.settings.enabled,
            "nondeterministic": self.settings.nondeterministic,
            "backend": self.store.backend,
            "degraded": bool(getattr(self.store, "degraded", False)),
            "entries": self.store.entries(),
            "hits": self.stats.hits,
            "misses": self.stats.misses,
            "hit_ratio": round(self.stats.hits / lookups, 4) if lookups else 0.0,
            "stores": self.stats.stores,
            "errors": self.stats.errors,
            "ttl_s": self.settings.ttl_s,
        }


async def _replay(events: list[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event
