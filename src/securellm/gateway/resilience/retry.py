"""Which failures are worth another try, and how long to wait before it."""

from __future__ import annotations

import random

from securellm.core.config.resilience import RetrySettings
from securellm.core.errors import (
    RateLimited,
    SecureLLMError,
    ServiceUnavailable,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)


def is_safe_to_retry(exc: SecureLLMError) -> bool:
    """The upstream refused without running the call: connection refused, 429, 503."""
    if isinstance(exc, (UpstreamUnavailable, RateLimited)):
        return True
    return isinstance(exc, UpstreamError) and exc.upstream_status == 503


def is_retryable(exc: SecureLLMError, settings: RetrySettings) -> bool:
    if isinstance(exc, ServiceUnavailable):
        return False  # our own breaker said no: trying again now cannot help
    if is_safe_to_retry(exc):
        return True
    unsafe = isinstance(exc, UpstreamTimeout) or (
        isinstance(exc, UpstreamError) and exc.status >= 500
    )
    return unsafe and settings.unsafe


def retry_after_s(exc: SecureLLMError) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form), if the upstream sent one."""
    value = exc.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def backoff_s(attempt: int, settings: RetrySettings, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(max, base * 2**attempt)]."""
    ceiling = min(settings.backoff_max_s, settings.backoff_base_s * (2**attempt))
    return (rng or random).uniform(0, ceiling)


def delay_before_retry(
    exc: SecureLLMError, attempt: int, settings: RetrySettings, remaining_s: float
) -> float | None:
    """How long to wait before attempt ``attempt + 1``; None when no retry fits the deadline."""
    wait = retry_after_s(exc)
    if wait is None:
        wait = backoff_s(attempt, settings)
    if wait >= remaining_s:
        return None
    return wait
