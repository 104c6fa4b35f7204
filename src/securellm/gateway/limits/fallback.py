"""Redis when it answers, in-process limits when it does not (reported as degraded)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from redis.exceptions import RedisError

from securellm.gateway.limits.gcra import Bucket, Concurrency, Decision, MemoryLimiter
from securellm.gateway.limits.redis_backend import RedisLimiter, Settlement

log = logging.getLogger(__name__)
RETRY_AFTER_FAILURE_S = 2.0
# No waiting window: a batch is whatever finished while the previous one was in flight
# (group commit), so a lone request's concurrency slot is freed at once.
BATCH_WINDOW_S = 0.0
REDIS_DOWN = (RedisError, OSError, TimeoutError)


class Limiter(Protocol):
    name: str

    async def acquire(
        self, buckets: Sequence[Bucket], concurrency: Concurrency | None, ttl_ms: float
    ) -> Decision: ...

    async def settle(
        self, adjustments: Sequence[tuple[str, float, int]], concurrency: Concurrency | None
    ) -> None: ...


class FallbackLimiter:
    """Uses ``shared`` (Redis) and falls back to ``local`` while it is unreachable.

    After a failure Redis is tried again every ``RETRY_AFTER_FAILURE_S``; requests never
    fail because Redis did. ``acquire`` returns which backend decided, so settling goes to
    the same one.
    """

    def __init__(self, shared: RedisLimiter | None, local: MemoryLimiter) -> None:
        self.shared = shared
        self.local = local
        self._batch: list[Settlement] = []
        self._flusher: asyncio.Task[None] | None = None
        self._down_since: float | None = None
        self._retry_at = 0.0
        self.last_error: str | None = None

    @property
    def degraded(self) -> bool:
        return self.shared is not None and self._down_since is not None

    def status(self) -> dict[str, Any]:
        if self.shared is None:
            return {"backend": "memory", "status": "ok"}
        if self._down_since is None:
            return {"backend": "redis", "status": "ok"}
        return {
            "backend": "memory",
            "status": "degraded",
            "reason": f"redis unreachable ({self.last_error}); limits are per process",
        }

    def _use_shared(self) -> bool:
        return self.shared is not None and (
            self._down_since is None or time.monotonic() >= self._retry_at
        )

    def _failed(self, exc: BaseException) -> None:
        if self._down_since is None:
            log.warning("redis unreachable (%s): using in-process limits", type(exc).__name__)
            self._down_since = time.monotonic()
        self.last_error = type(exc).__name__
        self._retry_at = time.monotonic() + RETRY_AFTER_FAILURE_S

    async def acquire(
        self, buckets: Sequence[Bucket], concurrency: Concurrency | None, ttl_ms: float
    ) -> tuple[Decision, Limiter]:
        if self.shared is None:
            return self.local.acquire_now(buckets, concurrency, ttl_ms), self.local
        if self._use_shared():
            try:
                decision = await self.shared.acquire(buckets, concurrency, ttl_ms)
            except REDIS_DOWN as exc:
                self._failed(exc)
            else:
                if self._down_since is not None:
                    log.warning("redis reachable again: shared limits restored")
                    self._down_since = None
                return decision, self.shared
        return await self.local.acquire(buckets, concurrency, ttl_ms), self.local

    def settle(
        self,
        backend: Limiter,
        adjustments: Sequence[tuple[str, float, int]],
        concurrency: Concurrency | None,
    ) -> None:
        """Settle at once in-process; for Redis, queue it: one round trip carries every
        settlement that arrived while the previous one was in flight."""
        if backend is self.local:
            for key, interval, delta in adjustments:
                self.local.adjust_now(key, interval, delta)
            if concurrency is not None:
                self.local.release_now(concurrency)
            return
        self._batch.append((adjustments, concurrency))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._batch:
                await asyncio.sleep(BATCH_WINDOW_S)
                batch, self._batch = self._batch, []
                assert self.shared is not None
                try:
                    await self.shared.settle_many(batch)
                except REDIS_DOWN as exc:
                    self._failed(exc)  # slots expire on their own; refunds are lost
        finally:
            self._flusher = None

    async def drain(self) -> None:
        """Send the settlements still queued (called on shutdown)."""
        while self._flusher is not None:
            await self._flusher
