"""A small LRU cache whose entries also expire after a TTL."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from pydantic import BaseModel


class CacheStats(BaseModel):
    """Counters shown by the ``cache_stats`` tool."""

    size: int
    max_size: int
    ttl_s: float
    hits: int
    misses: int
    evictions: int
    expirations: int
    hit_rate: float


class TtlLruCache:
    """Least-recently-used eviction at ``max_size``; entries older than ``ttl_s`` are misses."""

    def __init__(
        self, max_size: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._data: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._max_size = max_size
        self._ttl_s = ttl_s
        self._clock = clock
        self._hits = self._misses = self._evictions = self._expirations = 0

    def get(self, key: Hashable) -> object | None:
        item = self._data.get(key)
        if item is None:
            self._misses += 1
            return None
        expires, value = item
        if self._clock() >= expires:
            del self._data[key]
            self._expirations += 1
            self._misses += 1
            return None
        self._data.move_to_end(key)
        self._hits += 1
        return value

    def put(self, key: Hashable, value: object) -> None:
        self._data[key] = (self._clock() + self._ttl_s, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max_size:
            self._data.popitem(last=False)
            self._evictions += 1

    def clear(self) -> None:
        self._data.clear()

    def stats(self) -> CacheStats:
        lookups = self._hits + self._misses
        return CacheStats(
            size=len(self._data),
            max_size=self._max_size,
            ttl_s=self._ttl_s,
            hits=self._hits,
            misses=self._misses,
            evictions=self._evictions,
            expirations=self._expirations,
            hit_rate=self._hits / lookups if lookups else 0.0,
        )
