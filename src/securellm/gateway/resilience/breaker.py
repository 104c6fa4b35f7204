"""Circuit breakers per provider: closed → open → half-open, in-process or shared via Redis."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from securellm.core.config.resilience import BreakerSettings

log = logging.getLogger(__name__)
CLOSED_TTL_S = 1.0


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class Circuit:
    """What a breaker store keeps per provider."""

    failures: int = 0
    opened_until: float = 0.0  # wall-clock seconds; 0 when closed
    probing: bool = False

    def state(self, now: float) -> CircuitState:
        if self.opened_until == 0.0:
            return CircuitState.CLOSED
        return CircuitState.OPEN if now < self.opened_until else CircuitState.HALF_OPEN


class BreakerStore(Protocol):
    async def allow(self, name: str, settings: BreakerSettings) -> tuple[bool, float]: ...
    async def success(self, name: str) -> None: ...
    async def failure(self, name: str, settings: BreakerSettings) -> None: ...
    def snapshot(self) -> dict[str, CircuitState]: ...


class MemoryBreakers:
    """Breakers for one process."""

    def __init__(self) -> None:
        self.circuits: dict[str, Circuit] = {}

    async def allow(self, name: str, settings: BreakerSettings) -> tuple[bool, float]:
        """(allowed, seconds until retry). Half-open lets one probe through at a time."""
        circuit = self.circuits.setdefault(name, Circuit())
        now = time.time()
        state = circuit.state(now)
        if state is CircuitState.CLOSED:
            return True, 0.0
        if state is CircuitState.OPEN:
            return False, circuit.opened_until - now
        if circuit.probing:
            return False, settings.cooldown_s
        circuit.probing = True
        return True, 0.0

    async def success(self, name: str) -> None:
        self.circuits[name] = Circuit()

    async def failure(self, name: str, settings: BreakerSettings) -> None:
        circuit = self.circuits.setdefault(name, Circuit())
        circuit.failures += 1
        reopen = circuit.probing or circuit.failures >= settings.failure_threshold
        circuit.probing = False
        if reopen:
            circuit.opened_until = time.time() + settings.cooldown_s

    def snapshot(self) -> dict[str, CircuitState]:
        now = time.time()
        return {name: c.state(now) for name, c in self.circuits.items()}


# KEYS[1] = circuit hash; ARGV = now, threshold, cooldown. Returns {allowed, wait_ms}.
_ALLOW = """
local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_until') or '0')
local now = tonumber(ARGV[1])
if opened == 0 then return {1, 0} end  -- closed
if now < opened then return {0, math.floor((opened - now) * 1000)} end
if redis.call('HSETNX', KEYS[1], 'probing', '1') == 1 then
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 10))
  return {2, 0}  -- half-open: this caller is the probe
end
return {0, math.floor(tonumber(ARGV[3]) * 1000)}
"""
_FAILURE = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local probing = redis.call('HDEL', KEYS[1], 'probing')
local opened = 0
if probing == 1 or failures >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'opened_until', tonumber(ARGV[1]) + tonumber(ARGV[3]))
  opened = 1
end
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 10))
return opened
"""


class RedisBreakers:
    """Breakers shared by every gateway process; falls back to memory when Redis fails."""

    def __init__(self, redis: Any, prefix: str = "securellm:breaker:") -> None:
        self.redis = redis
        self.prefix = prefix
        self.fallback = MemoryBreakers()
        self.degraded = False
        self._allow = redis.register_script(_ALLOW)
        self._failure = redis.register_script(_FAILURE)
        self.mirror: dict[str, CircuitState] = {}
        self._closed_until: dict[str, float] = {}  # monotonic time a "closed" answer is trusted
        self._failed: set[str] = set()  # providers this process saw fail since the last reset

    async def allow(self, name: str, settings: BreakerSettings) -> tuple[bool, float]:
        """A closed circuit is trusted for ``CLOSED_TTL_S`` without asking Redis again, so a
        healthy provider costs one Redis call per second per process, not one per request."""
        if time.monotonic() < self._closed_until.get(name, 0.0):
            return True, 0.0
        try:
            verdict, wait_ms = await self._allow(
                keys=[self.prefix + name],
                args=[time.time(), settings.failure_threshold, settings.cooldown_s],
            )
            self.degraded = False
        except Exception as exc:  # any Redis error: degrade, never fail the request
            self._degrade(exc)
            return await self.fallback.allow(name, settings)
        if verdict == 1:
            self.mirror[name] = CircuitState.CLOSED
            self._closed_until[name] = time.monotonic() + CLOSED_TTL_S
        elif verdict == 0:
            self.mirror[name] = CircuitState.OPEN
        return bool(verdict), int(wait_ms) / 1000.0

    async def success(self, name: str) -> None:
        """Reset the shared count only when this process saw failures (no call per request)."""
        if name not in self._failed and self.mirror.get(name) is CircuitState.CLOSED:
            return
        self._failed.discard(name)
        self.mirror[name] = CircuitState.CLOSED
        try:
            await self.redis.delete(self.prefix + name)
        except Exception as exc:
            self._degrade(exc)
        await self.fallback.success(name)

    async def failure(self, name: str, settings: BreakerSettings) -> None:
        self._failed.add(name)
        self._closed_until.pop(name, None)
        try:
            opened = await self._failure(
                keys=[self.prefix + name],
                args=[time.time(), settings.failure_threshold, settings.cooldown_s],
            )
            if opened:
                self.mirror[name] = CircuitState.OPEN
        except Exception as exc:
            self._degrade(exc)
            await self.fallback.failure(name, settings)

    def snapshot(self) -> dict[str, CircuitState]:
        """Last state seen by this process (Redis holds the shared truth)."""
        return {**self.mirror, **self.fallback.snapshot()} if self.degraded else dict(self.mirror)

    def _degrade(self, exc: Exception) -> None:
        if not self.degraded:
            log.warning("redis unavailable for circuit breakers: %s", type(exc).__name__)
        self.degraded = True
