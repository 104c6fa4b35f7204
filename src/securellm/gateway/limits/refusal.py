"""The 429 a refused request gets, saying which limit refused it and how to change it.

A refusal by a provider's *preset* limit (a ``kind`` whose rpm/burst the user did not set)
is also logged as a warning, at most once per provider per minute, so an operator sees why
requests are throttled before any upstream was asked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from securellm.core.errors import RateLimited
from securellm.gateway.limits.gcra import Bucket, Decision
from securellm.gateway.limits.headers import rate_headers, retry_after

log = logging.getLogger(__name__)
WARN_EVERY_S = 60.0
_WHOSE = {"key": "this key's", "provider": "the provider's", "model": "the model's"}


class Refusals:
    """Builds rate-limit refusals; remembers when it last warned about each preset."""

    def __init__(self) -> None:
        self._warned: dict[str, float] = {}

    def rate_limited(
        self, decision: Decision, buckets: Sequence[Bucket], dialect: str
    ) -> RateLimited:
        headers = {"retry-after": retry_after(decision.retry_after_ms)}
        headers.update(rate_headers(buckets, decision, dialect))
        wait = headers["retry-after"]
        denied = decision.denied
        if decision.concurrency_denied or denied is None:
            message = "too many requests in flight for this key"
        elif denied.preset is not None:
            message = self._preset(denied)
        else:
            per = "requests" if denied.kind == "requests" else "tokens"
            message = (
                f"rate limit reached: {_WHOSE[denied.scope]} limit of {denied.limit} {per} "
                "per minute"
            )
        if decision.fallback_share > 1:
            message += (
                f" (the shared limit store is unreachable: this gateway process admits "
                f"1/{decision.fallback_share} of it until it is back)"
            )
        return RateLimited(f"{message}; retry in {wait}s", headers=headers)

    def _preset(self, bucket: Bucket) -> str:
        provider = bucket.key.split(":")[1]
        now = time.monotonic()
        if now - self._warned.get(provider, -WARN_EVERY_S) >= WARN_EVERY_S:
            self._warned[provider] = now
            log.warning(
                "provider %r throttled by the %r preset limit (%d requests per minute, "
                "burst %d); set rpm and burst in its [[providers]] entry to change it",
                provider,
                bucket.preset,
                bucket.limit,
                bucket.capacity,
            )
        return (
            f"rate limit reached: provider {provider!r} is held to the {bucket.preset!r} "
            f"preset limit of {bucket.limit} requests per minute with a burst of "
            f"{bucket.capacity}; set rpm and burst in its [[providers]] entry of the "
            "gateway config to change it"
        )
