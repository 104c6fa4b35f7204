"""Redis when it answers; a bounded in-process stand-in (or a refusal) when it does not.

Each gateway process registers itself in Redis with a heartbeat, so every process knows how
many replicas share the limits. While Redis is unreachable a process either admits its
share of every limit (``limits_fallback = "share"``, the default: ``1/N`` of the rate and
burst, from empty buckets) or refuses limited requests with 503 (``"closed"``). The same
heartbeat notices when Redis is back: the replicas agree on one moment to return, each
carries what it admitted meanwhile into Redis (:mod:`securellm.gateway.limits.outage`),
and only then does Redis decide again. docs/security.md states the bound this gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from redis.exceptions import RedisError

from securellm.core.config import GatewaySettings
from securellm.core.errors import ServiceUnavailable
from securellm.gateway.limits.gcra import Adjustment, Bucket, Concurrency, Decision, MemoryLimiter
from securellm.gateway.limits.outage import Outage
from securellm.gateway.limits.redis_backend import RedisLimiter, Settlement

log = logging.getLogger(__name__)
HEARTBEAT_S = 2.0
STOP_RETRY_S = 0.5
# A replica that has not beaten for this long is no longer counted.
REPLICA_TTL_MS = 10_000.0
# Redis back: every replica probes within one heartbeat plus the client's timeouts, so all
# of them have carried what they owe before any of them lets Redis decide again.
RESUME_HOLD_MS = 2 * HEARTBEAT_S * 1000 + 1000
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
        self, adjustments: Sequence[Adjustment], concurrency: Concurrency | None
    ) -> None: ...


@dataclass(frozen=True)
class FallbackPolicy:
    """What a process does without Redis, and the fewest replicas it divides limits by."""

    mode: Literal["share", "closed"] = "share"
    replicas: int = 1
    resume_hold_ms: float = RESUME_HOLD_MS

    @classmethod
    def from_settings(cls, gateway: GatewaySettings) -> FallbackPolicy:
        return cls(gateway.limits_fallback, max(gateway.limits_replicas or 1, gateway.workers))


class FallbackLimiter:
    """Uses ``shared`` (Redis) and a bounded fallback while it is unreachable.

    ``acquire`` returns which backend decided, so settling goes to the same one: Redis, the
    in-process ``local`` limiter when there is no Redis at all, or the current outage's.
    """

    def __init__(
        self,
        shared: RedisLimiter | None,
        local: MemoryLimiter,
        policy: FallbackPolicy | None = None,
    ) -> None:
        self.shared = shared
        self.local = local
        self.policy = policy or FallbackPolicy()
        self.replica = uuid.uuid4().hex
        self.replicas_seen = 0
        self.last_error: str | None = None
        self.outage: Outage | None = None
        self._resuming: asyncio.Event | None = None
        self._batch: list[Settlement] = []
        self._flusher: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def share(self) -> int:
        """How many replicas the limits are divided by when Redis goes away now."""
        return max(self.policy.replicas, self.replicas_seen)

    @property
    def degraded(self) -> bool:
        return self.outage is not None

    def status(self) -> dict[str, Any]:
        if self.shared is None:
            return {"backend": "memory", "status": "ok"}
        if self.outage is None:
            return {"backend": "redis", "status": "ok", "replicas": self.share}
        if self.policy.mode == "closed":
            effect = "requests with limits are refused (limits_fallback = closed)"
            return {"backend": "none", "status": "degraded", "reason": self._reason(effect)}
        effect = f"each process admits 1/{self.outage.share} of every limit"
        return {"backend": "memory", "status": "degraded", "reason": self._reason(effect)}

    def _reason(self, effect: str) -> str:
        return f"redis unreachable ({self.last_error}); {effect}"

    def start(self) -> None:
        """Begin the heartbeat (with Redis only); ``drain`` stops it."""
        if self.shared is not None and self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._keep_in_touch())

    def _failed(self, exc: BaseException) -> Outage:
        self.last_error = type(exc).__name__
        if self.outage is None:
            self.outage = Outage(self.share)
            if self.policy.mode == "closed":
                log.warning("redis unreachable (%s): refusing limited requests", self.last_error)
            else:
                log.warning(
                    "redis unreachable (%s): admitting 1/%d of every limit in this process",
                    self.last_error,
                    self.outage.share,
                )
        return self.outage

    async def acquire(
        self, buckets: Sequence[Bucket], concurrency: Concurrency | None, ttl_ms: float
    ) -> tuple[Decision, Limiter]:
        if self.shared is None:
            return self.local.acquire_now(buckets, concurrency, ttl_ms), self.local
        if self._resuming is not None:
            await self._resuming.wait()
        outage = self.outage
        if outage is None:
            try:
                return await self.shared.acquire(buckets, concurrency, ttl_ms), self.shared
            except REDIS_DOWN as exc:
                outage = self._failed(exc)
                if concurrency is not None:
                    outage.releases.append(concurrency)  # the script may still run later
        if self.policy.mode == "closed":
            wait = str(math.ceil(HEARTBEAT_S))
            raise ServiceUnavailable(
                "rate limits cannot be checked: the shared limit store (Redis) is "
                f"unreachable and limits_fallback is closed; retry in {wait}s",
                headers={"retry-after": wait},
            )
        return outage.acquire(buckets, concurrency, ttl_ms), outage.local

    def settle(
        self,
        backend: Limiter,
        adjustments: Sequence[Adjustment],
        concurrency: Concurrency | None,
    ) -> None:
        """Settle with the backend that admitted the request.

        In-process at once; for Redis, queued: one round trip carries every settlement that
        arrived while the previous one was in flight. A request admitted by a backend that
        is no longer the one deciding (Redis went away, or came back) keeps only its extra
        charges: a refund could give back what the current backend never took.
        """
        outage = self.outage
        if backend is self.shared and outage is None:
            self._queue((adjustments, concurrency))
        elif backend is self.local:
            for bucket, units in adjustments:
                self.local.adjust_now(bucket, units)
            if concurrency is not None:
                self.local.release_now(concurrency)
        elif outage is not None and backend is outage.local:
            outage.adjust(adjustments)
            if concurrency is not None:
                outage.release(concurrency)
        elif outage is not None:
            outage.charge(adjustments)
            if backend is self.shared and concurrency is not None:
                outage.releases.append(concurrency)
        else:  # admitted by an outage that has ended
            charges = [(bucket, units) for bucket, units in adjustments if units > 0]
            if charges:
                self._queue((charges, None))

    def _queue(self, settlement: Settlement) -> None:
        self._batch.append(settlement)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._batch:
                await asyncio.sleep(BATCH_WINDOW_S)
                batch, self._batch = self._batch, []
                assert self.shared is not None
                if self.outage is None:
                    try:
                        await self.shared.settle_many(batch)
                        continue
                    except REDIS_DOWN as exc:
                        self._failed(exc)
                outage = self.outage
                assert outage is not None
                for adjustments, concurrency in batch:
                    outage.charge(adjustments)
                    if concurrency is not None:
                        outage.releases.append(concurrency)
        finally:
            self._flusher = None

    async def _keep_in_touch(self) -> None:
        while self._heartbeat is not None:  # drain() clears it, even if a cancel is lost
            try:
                await self.beat()
            except Exception:
                log.exception("limits heartbeat failed")
            await asyncio.sleep(HEARTBEAT_S)

    async def beat(self) -> None:
        """One heartbeat (the background task sends one every ``HEARTBEAT_S``): count the
        replicas, and during an outage, return to Redis once it answers."""
        shared = self.shared
        assert shared is not None
        hold = self.policy.resume_hold_ms if self.outage is not None else None
        try:
            beat = await shared.heartbeat(self.replica, REPLICA_TTL_MS, hold)
        except REDIS_DOWN as exc:
            self._failed(exc)
            return
        self.replicas_seen = beat.replicas
        if self.outage is not None and beat.resume_in_ms is not None:
            await asyncio.sleep(beat.resume_in_ms / 1000)
            await self._resume(shared, self.outage)

    async def _resume(self, shared: RedisLimiter, outage: Outage) -> None:
        """Carry what this outage admitted into Redis, then let Redis decide again."""
        gate = self._resuming = asyncio.Event()
        try:
            owed = outage.carry()
            await shared.settle_many([(owed, None), *(((), c) for c in outage.releases)])
        except REDIS_DOWN as exc:
            self._failed(exc)
        else:
            self.outage = None
            log.warning(
                "redis reachable again: shared limits restored (%d bucket(s) carried over)",
                len(owed),
            )
        finally:
            self._resuming = None
            gate.set()

    async def drain(self) -> None:
        """Stop the heartbeat, leave the registry, send the settlements still queued."""
        if self._heartbeat is not None:
            task, self._heartbeat = self._heartbeat, None
            await _stop(task)
            if self.shared is not None and self.outage is None:
                with contextlib.suppress(*REDIS_DOWN):
                    await self.shared.leave(self.replica)
        while self._flusher is not None:
            await self._flusher


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for its end, cancelling again while it runs: on Python 3.11 a
    cancel that lands as an ``asyncio.timeout`` inside redis-py expires can be swallowed."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_RETRY_S)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
