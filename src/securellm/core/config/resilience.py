"""Retries, circuit breakers and the response cache: per provider, and ``[cache]``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from securellm.core.config.base import Section


class RetrySettings(Section):
    """``[providers.retry]``: exponential backoff with full jitter, ``Retry-After`` honoured."""

    attempts: int = Field(default=3, ge=1, le=10, description="tries per target, first included")
    backoff_base_s: float = Field(default=0.25, gt=0)
    backoff_max_s: float = Field(default=8.0, gt=0)
    unsafe: bool = Field(
        default=True,
        description="also retry timeouts and 500/502/504, where the upstream may have run the call",
    )


class BreakerSettings(Section):
    """``[providers.breaker]``: closed → open after N consecutive failures → half-open probe."""

    enabled: bool = True
    failure_threshold: int = Field(default=5, ge=1)
    cooldown_s: float = Field(default=30.0, gt=0)


class CacheSettings(Section):
    """``[cache]``: exact-match response cache (in-process LRU, or Redis when configured).

    Off unless enabled: an agent re-running a turn must reach the model. When enabled, only
    requests with ``temperature = 0`` (and embeddings) are cached, unless ``nondeterministic``
    also admits sampled ones (``temperature`` above 0, or none: the provider's default).
    """

    enabled: bool = False
    nondeterministic: bool = False
    ttl_s: float = Field(default=300.0, gt=0)
    max_entries: int = Field(default=10_000, ge=1)
    max_entry_bytes: int = Field(default=1024 * 1024, ge=1024)
    backend: Literal["auto", "memory", "redis"] = "auto"
