"""The cache key: a hash of the request fields that decide the answer, normalised."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

# Fields that never change the answer (or that we must not share across callers).
IGNORED = frozenset({"user", "metadata", "store", "service_tier", "stream_options", "stream"})


def cache_key(op: str, model: str, body: dict[str, Any], *, stream: bool, usage: bool) -> str:
    """SHA-256 over operation, public model, the answer-deciding body fields and the shape.

    Keys are sorted, so ``{"a":1,"b":2}`` and ``{"b":2,"a":1}`` share an entry; the
    stream shape (and whether the client asked for a usage chunk) is part of the key
    because a hit replays the exact bytes the first client received.
    """
    material = {k: v for k, v in body.items() if k not in IGNORED}
    material["model"] = model
    envelope = {"op": op, "stream": stream, "usage": usage and stream, "body": material}
    return hashlib.sha256(orjson.dumps(envelope, option=orjson.OPT_SORT_KEYS)).hexdigest()
