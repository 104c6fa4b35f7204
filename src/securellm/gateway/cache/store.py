"""Where cached responses live: an in-process LRU with TTL, or Redis (shared, degrading)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import orjson
from cachetools import TTLCache

from securellm.providers.base import Usage

log = logging.getLogger(__name__)


@dataclass
class CachedResponse:
    """A complete answer: the body, or the SSE events exactly as the client received them."""

    provider: str
    model: str
    usage: Usage
    media_type: str = "application/json"
    body: bytes | None = None
    events: list[bytes] | None = None

    def size(self) -> int:
        return len(self.body or b"") + sum(len(e) for e in self.events or [])

    def dumps(self) -> bytes:
        data: dict[str, Any] = {
            "provider": self.provider,
            "model": self.model,
            "usage": asdict(self.usage),
            "media_type": self.media_type,
            "body": self.body.decode() if self.body is not None else None,
            "events": [e.decode() for e in self.events] if self.events is not None else None,
        }
        return orjson.dumps(data)

    @classmethod
    def loads(cls, raw: bytes) -> CachedResponse:
        data = orjson.loads(raw)
        return cls(
            provider=data["provider"],
            model=data["model"],
            usage=Usage(**data["usage"]),
            media_type=data["media_type"],
            body=data["body"].encode() if data["body"] is not None else None,
            events=[e.encode() for e in data["events"]] if data["events"] is not None else None,
        )


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    stores: int = 0
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class CacheStore(Protocol):
    backend: str

    async def get(self, key: str) -> CachedResponse | None: ...
    async def put(self, key: str, value: CachedResponse) -> None: ...
    async def clear(self) -> int: ...
    def entries(self) -> int | None: ...


class MemoryStore:
    backend = "memory"

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self._items: TTLCache[str, CachedResponse] = TTLCache(maxsize=max_entries, ttl=ttl_s)

    async def get(self, key: str) -> CachedResponse | None:
        return self._items.get(key)

    async def put(self, key: str, value: CachedResponse) -> None:
        self._items[key] = value

    async def clear(self) -> int:
        count = len(self._items)
        self._items.clear()
        return count

    def entries(self) -> int | None:
        return len(self._items)


class RedisStore:
    """Entries shared by every gateway process; any Redis error falls back to memory."""

    backend = "redis"

    def __init__(self, redis: Any, ttl_s: float, fallback: MemoryStore) -> None:
        self.redis = redis
        self.ttl_ms = int(ttl_s * 1000)
        self.fallback = fallback
        self.prefix = "securellm:cache:"
        self.degraded = False

    async def get(self, key: str) -> CachedResponse | None:
        try:
            raw = await self.redis.get(self.prefix + key)
            self.degraded = False
        except Exception as exc:  # Redis down: degrade, never fail the request
            self._degrade(exc)
            return await self.fallback.get(key)
        return CachedResponse.loads(raw) if raw is not None else None

    async def put(self, key: str, value: CachedResponse) -> None:
        try:
            await self.redis.set(self.prefix + key, value.dumps(), px=self.ttl_ms)
        except Exception as exc:
            self._degrade(exc)
            await self.fallback.put(key, value)

    async def clear(self) -> int:
        removed = await self.fallback.clear()
        try:
            keys = [k async for k in self.redis.scan_iter(match=self.prefix + "*", count=500)]
            if keys:
                removed += int(await self.redis.delete(*keys))
        except Exception as exc:
            self._degrade(exc)
        return removed

    def entries(self) -> int | None:
        return None  # counting Redis keys means a SCAN: ``cache stats`` does not pay for it

    def _degrade(self, exc: Exception) -> None:
        if not self.degraded:
            log.warning("redis unavailable for the response cache: %s", type(exc).__name__)
        self.degraded = True
