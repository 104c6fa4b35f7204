"""``Retry-After`` and ``x-ratelimit-*`` headers (Anthropic's names on ``/v1/messages``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from securellm.gateway.limits.gcra import Bucket, BucketState, Decision


def duration(ms: float) -> str:
    """OpenAI's reset format: ``20ms``, ``1.5s``, ``6m0s``."""
    if ms < 1000:
        return f"{max(math.ceil(ms), 0)}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest, 3):g}s"


def retry_after(ms: float) -> str:
    return str(max(1, math.ceil(ms / 1000)))


def _tightest(
    buckets: Sequence[Bucket], states: dict[str, BucketState], kind: str
) -> tuple[Bucket, BucketState] | None:
    """The bucket of ``kind`` with the fewest units left (what the client should see)."""
    best: tuple[Bucket, BucketState] | None = None
    for bucket in buckets:
        if bucket.kind == kind:
            state = states.get(bucket.key)
            if state is not None and (best is None or state.remaining < best[1].remaining):
                best = (bucket, state)
    return best


def rate_headers(buckets: Sequence[Bucket], decision: Decision, dialect: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    now = datetime.now(UTC) if dialect == "anthropic" else None
    for kind in ("requests", "tokens"):
        pair = _tightest(buckets, decision.states, kind)
        if pair is None:
            continue
        bucket, state = pair
        if now is not None:
            reset = (now + timedelta(milliseconds=state.reset_ms)).isoformat(timespec="seconds")
            headers[f"anthropic-ratelimit-{kind}-limit"] = str(bucket.limit)
            headers[f"anthropic-ratelimit-{kind}-remaining"] = str(state.remaining)
            headers[f"anthropic-ratelimit-{kind}-reset"] = reset.replace("+00:00", "Z")
        else:
            headers[f"x-ratelimit-limit-{kind}"] = str(bucket.limit)
            headers[f"x-ratelimit-remaining-{kind}"] = str(state.remaining)
            headers[f"x-ratelimit-reset-{kind}"] = duration(state.reset_ms)
    return headers
