"""A token-bucket rate limiter and a circuit breaker with an explicit state machine."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

import anyio

from securellm.mcp.errors import UpstreamError


class TokenBucket:
    """``rate`` requests per second on average, bursts of up to ``burst``; waits briefly."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_wait_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._max_wait = max_wait_s
        self._clock = clock
        self._last = clock()
        self._lock = anyio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now

    async def acquire(self) -> None:
        """Take a token, sleeping for it if the wait is short; refuse otherwise."""
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                wait = (1 - self._tokens) / self._rate
                if wait > self._max_wait:
                    raise UpstreamError("rate limit for gateway/offload calls reached; slow down")
                await anyio.sleep(wait)
                self._refill()
            self._tokens -= 1


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``failures`` consecutive failures; lets one probe through after ``reset_s``."""

    def __init__(
        self,
        name: str,
        failures: int,
        reset_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failures
        self._reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state = BreakerState.CLOSED

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._reset_s:
            self._state = BreakerState.HALF_OPEN
        return self._state

    def before_call(self) -> None:
        """Raise at once while open, instead of waiting on a service known to be down."""
        if self.state is BreakerState.OPEN:
            remaining = self._reset_s - (self._clock() - self._opened_at)
            raise UpstreamError(
                f"{self.name} is unavailable (circuit open after {self._threshold} failures); "
                f"next try in {max(remaining, 0):.0f}s"
            )

    def record_success(self) -> None:
        self._failures = 0
        self._state = BreakerState.CLOSED

    def record_failure(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
