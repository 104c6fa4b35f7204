"""One period without Redis: the in-process limiter that stands in, and what it admitted.

While Redis is away each gateway process admits ``1/N`` of every limit (``N``: the replicas
known when Redis last answered), starting from empty buckets, because it cannot know what
the others took just before. When Redis returns, the process *carries* into each shared
bucket the smaller of what it took and what it still owes: what a shared bucket would still
hold against it, so no replica resumes with a rested bucket it has partly used.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from securellm.gateway.limits.gcra import Adjustment, Bucket, Concurrency, Decision, MemoryLimiter


class Outage:
    """The fallback state of one process from the first failure until Redis is back."""

    def __init__(self, share: int) -> None:
        self.share = share
        self.since = time.monotonic()
        self.local = MemoryLimiter(spent_at_ms=MemoryLimiter.now_ms())
        # Per bucket: the bucket (full size) and the units taken from its share so far.
        self.taken: dict[str, tuple[Bucket, float]] = {}
        # Concurrency slots held in Redis whose requests ended meanwhile (ZREM is idempotent).
        self.releases: list[Concurrency] = []

    def acquire(
        self, buckets: Sequence[Bucket], concurrency: Concurrency | None, ttl_ms: float
    ) -> Decision:
        parts = [b.share(self.share) for b in buckets]
        if concurrency is not None:
            concurrency = concurrency._replace(limit=max(1, concurrency.limit // self.share))
        decision = self.local.acquire_now(parts, concurrency, ttl_ms)
        decision.fallback_share = self.share
        if decision.allowed:
            for bucket, part in zip(buckets, parts, strict=True):
                self._count(bucket, part.cost)
        return decision

    def adjust(self, adjustments: Sequence[Adjustment]) -> None:
        """Settle a request this outage admitted (refunds included)."""
        for bucket, units in adjustments:
            self.local.adjust_now(bucket.share(self.share), units)
            self._count(bucket, units)

    def charge(self, adjustments: Sequence[Adjustment]) -> None:
        """Settle a request admitted elsewhere: extra charges count, refunds are dropped."""
        self.adjust([(bucket, units) for bucket, units in adjustments if units > 0])

    def release(self, concurrency: Concurrency) -> None:
        """Free the slot of a request this outage admitted."""
        self.local.release_now(concurrency)

    def _count(self, bucket: Bucket, units: float) -> None:
        held = self.taken.get(bucket.key)
        before = held[1] if held is not None else 0.0
        self.taken[bucket.key] = (bucket, max(before + units, 0.0))

    def carry(self) -> list[Adjustment]:
        """What to charge each shared bucket before this process uses Redis again."""
        owed = []
        for bucket, taken in self.taken.values():
            units = min(taken, self.local.owed(bucket.share(self.share)))
            if units > 0:
                owed.append((bucket, units))
        return owed
