"""The token bucket and the circuit breaker, on a fake clock."""

from __future__ import annotations

import pytest

from securellm.mcp.errors import UpstreamError
from securellm.mcp.stack.resilience import BreakerState, CircuitBreaker, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_bucket_allows_a_burst_then_refuses_a_long_wait() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=0.1, burst=2, max_wait_s=1.0, clock=clock)
    await bucket.acquire()
    await bucket.acquire()
    with pytest.raises(UpstreamError, match="rate limit"):
        await bucket.acquire()


async def test_bucket_refills_with_time() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=1.0, burst=1, max_wait_s=0.0, clock=clock)
    await bucket.acquire()
    clock.now += 1.0
    await bucket.acquire()


def test_breaker_opens_after_the_threshold() -> None:
    breaker = CircuitBreaker("gateway", failures=2, reset_s=10, clock=Clock())
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(UpstreamError, match="circuit open"):
        breaker.before_call()


def test_breaker_half_opens_after_reset_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker("offload", failures=1, reset_s=10, clock=clock)
    breaker.record_failure()
    clock.now = 10
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_failed_probe_in_half_open_reopens_the_circuit() -> None:
    clock = Clock()
    breaker = CircuitBreaker("offload", failures=3, reset_s=10, clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now = 11
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
