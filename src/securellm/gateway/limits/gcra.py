"""GCRA (the generic cell rate algorithm): a token bucket kept as one timestamp per bucket.

A bucket allows ``limit`` units per minute and at most ``capacity`` units at once from
rest. It stores the theoretical arrival time (TAT): the moment the bucket would be full
again. Taking ``cost`` units moves the TAT by ``cost * T`` (``T = 60 s / limit``); the
request is refused when the new TAT lies more than ``capacity * T`` in the future. The
Redis script in :mod:`securellm.gateway.limits.redis_backend` runs the same arithmetic.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Kind = Literal["requests", "tokens"]
Scope = Literal["key", "provider", "model"]


@dataclass(slots=True)
class Bucket:
    """One limit a request must pass: ``cost`` units out of ``limit`` per minute."""

    key: str
    limit: int
    capacity: int
    cost: int
    kind: Kind
    scope: Scope
    preset: str | None = None  # the provider kind whose preset set this limit
    interval_ms: float = field(init=False)
    tolerance_ms: float = field(init=False)

    def __post_init__(self) -> None:
        self.interval_ms = 60_000.0 / self.limit
        self.tolerance_ms = self.capacity * self.interval_ms

    def costing(self, cost: int) -> Bucket:
        """The same bucket taking ``cost`` units (at most a full bucket: never refused forever)."""
        return Bucket(
            self.key,
            self.limit,
            self.capacity,
            min(cost, self.capacity),
            self.kind,
            self.scope,
            self.preset,
        )

    def share(self, parts: int) -> Bucket:
        """One of ``parts`` equal shares: 1/parts of the rate and of the burst (at least one
        unit), over the same burst period. ``parts`` shares together admit no more than the
        bucket, except that each keeps one unit when the burst is smaller than ``parts``."""
        if parts <= 1:
            return self
        part = Bucket(self.key, self.limit, self.capacity, 1, self.kind, self.scope, self.preset)
        part.interval_ms = self.interval_ms * parts
        part.tolerance_ms = max(self.tolerance_ms, part.interval_ms)
        part.cost = min(self.cost, int(part.tolerance_ms // part.interval_ms))
        return part


# What a settlement changes: ``units`` more of ``bucket`` (negative: a refund).
Adjustment = tuple[Bucket, float]


class Concurrency(NamedTuple):
    """At most ``limit`` requests of one key in flight; ``member`` identifies this one."""

    key: str
    limit: int
    member: str


class BucketState(NamedTuple):
    """What a bucket looks like after a decision (for the ``x-ratelimit-*`` headers)."""

    remaining: int
    reset_ms: float


@dataclass
class Decision:
    allowed: bool
    retry_after_ms: float = 0.0
    denied: Bucket | None = None
    concurrency_denied: bool = False
    states: dict[str, BucketState] = field(default_factory=dict)
    # Decided by the fallback while Redis is unreachable, admitting 1/share of each limit.
    fallback_share: int = 0


def check(tat: float, now: float, bucket: Bucket) -> tuple[bool, float, float, BucketState]:
    """One bucket: ``(allowed, new_tat, retry_after_ms, state)`` (pure arithmetic)."""
    start = max(tat, now)
    new_tat = start + bucket.cost * bucket.interval_ms
    excess = new_tat - now - bucket.tolerance_ms
    if excess > 0:
        left = int((bucket.tolerance_ms - (start - now)) // bucket.interval_ms)
        return False, tat, excess, BucketState(max(left, 0), start - now)
    left = int((bucket.tolerance_ms - (new_tat - now)) // bucket.interval_ms)
    return True, new_tat, 0.0, BucketState(left, new_tat - now)


def adjusted(tat: float, now: float, bucket_interval_ms: float, delta: float) -> float:
    """The TAT after charging ``delta`` more units (negative: refund), never before ``now``."""
    return max(max(tat, now) + delta * bucket_interval_ms, now) if delta else tat


class MemoryLimiter:
    """Exact limits inside one process (the default, and the fallback when Redis is down).

    With ``spent_at_ms`` every bucket this limiter has not seen yet counts as emptied at that
    moment instead of rested: the fallback uses it, since it cannot know what the other
    gateways took just before Redis went away.
    """

    name = "memory"

    def __init__(self, spent_at_ms: float | None = None) -> None:
        self.spent_at_ms = spent_at_ms
        self._tat: dict[str, float] = {}
        self._flight: dict[str, dict[str, float]] = {}

    def _start(self, bucket: Bucket, now: float) -> float:
        tat = self._tat.get(bucket.key)
        if tat is not None:
            return tat
        return now if self.spent_at_ms is None else self.spent_at_ms + bucket.tolerance_ms

    def owed(self, bucket: Bucket) -> float:
        """Units of ``bucket`` not refilled yet (what a full bucket would give back)."""
        now = self.now_ms()
        return max(self._start(bucket, now) - now, 0.0) / bucket.interval_ms

    @staticmethod
    def now_ms() -> float:
        return time.time() * 1000.0

    async def acquire(
        self, buckets: Sequence[Bucket], concurrency: Concurrency | None, ttl_ms: float
    ) -> Decision:
        return self.acquire_now(buckets, concurrency, ttl_ms)

    def acquire_now(
        self, buckets: Sequence[Bucket], concurrency: Concurrency | None, ttl_ms: float
    ) -> Decision:
        """``acquire`` without a coroutine (nothing here waits)."""
        now = self.now_ms()
        if concurrency is not None:
            flight = self._flight.setdefault(concurrency.key, {})
            if len(flight) >= concurrency.limit:
                for member, since in list(flight.items()):
                    if now - since > ttl_ms:  # a slot its request never gave back
                        del flight[member]
            if len(flight) >= concurrency.limit:
                return Decision(False, 1000.0, concurrency_denied=True)
        decision = Decision(True)
        updates: dict[str, float] = {}
        tats, spent_at = self._tat, self.spent_at_ms
        for bucket in buckets:
            tat = tats.get(bucket.key)
            if tat is None:
                tat = now if spent_at is None else spent_at + bucket.tolerance_ms
            ok, new_tat, retry, state = check(tat, now, bucket)
            decision.states[bucket.key] = state
            if not ok:
                return Decision(False, retry, denied=bucket, states=decision.states)
            updates[bucket.key] = new_tat
        self._tat.update(updates)
        if concurrency is not None:
            self._flight[concurrency.key][concurrency.member] = now
        return decision

    async def settle(
        self, adjustments: Sequence[Adjustment], concurrency: Concurrency | None
    ) -> None:
        for bucket, delta in adjustments:
            self.adjust_now(bucket, delta)
        if concurrency is not None:
            self.release_now(concurrency)

    def adjust_now(self, bucket: Bucket, delta: float) -> None:
        if delta:
            now = self.now_ms()
            tat = self._start(bucket, now)
            self._tat[bucket.key] = adjusted(tat, now, bucket.interval_ms, delta)

    def release_now(self, concurrency: Concurrency) -> None:
        self._flight.get(concurrency.key, {}).pop(concurrency.member, None)
