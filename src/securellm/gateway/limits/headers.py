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


_OPENAI_NAMES = {
    kind: tuple(f"x-ratelimit-{part}-{kind}" for part in ("limit", "remaining", "reset"))
    for kind in ("requests", "tokens")
}


def _tightest(
    buckets: Sequence[Bucket], states: dict[str, BucketState]
) -> dict[str, tuple[Bucket, BucketState]]:
    """Per kind, the bucket with the fewest units left (what the client should see)."""
    best: dict[str, tuple[Bucket, BucketState]] = {}
    for bucket in buckets:
        state = states.get(bucket.key)
        if state is None:
            continue
        held = best.get(bucket.kind)
        if held is None or state.remaining < held[1].remaining:
            best[bucket.kind] = (bucket, state)
    return best


def rate_headers(buckets: Sequence[Bucket], decision: Decision, dialect: str) -> dict[str, str]:
    tightest = _tightest(buckets, decision.states)
    headers: dict[str, str] = {}
    if dialect == "anthropic":
        now = datetime.now(UTC)
        for kind, (bucket, state) in tightest.items():
            reset = (now + timedelta(milliseconds=state.reset_ms)).isoformat(timespec="seconds")
            headers[f"anthropic-ratelimit-{kind}-limit"] = str(bucket.limit)
            headers[f"anthropic-ratelimit-{kind}-remaining"] = str(state.remaining)
            headers[f"anthropic-ratelimit-{kind}-reset"] = reset.replace("+00:00", "Z")
        return headers
    for kind, (bucket, state) in tightest.items():
        names = _OPENAI_NAMES[kind]
        headers[names[0]] = str(bucket.limit)
        headers[names[1]] = str(state.remaining)
        headers[names[2]] = duration(state.reset_ms)
    return headers
