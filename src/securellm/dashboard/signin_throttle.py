"""Failed sign-ins per client address: a few a minute, then 429 with ``Retry-After``.

Counted in this process (each gateway worker keeps its own window): enough to make
guessing keys through the form slow; keys carry 256 random bits anyway.
"""

from __future__ import annotations

import math
import time
from collections import deque

FAILURES = 5
WINDOW_S = 60.0
MAX_CLIENTS = 10_000


class SigninThrottle:
    def __init__(self, failures: int = FAILURES, window_s: float = WINDOW_S) -> None:
        self.failures = failures
        self.window_s = window_s
        self._seen: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or ``None`` when it may now."""
        times = self._recent(client)
        if len(times) < self.failures:
            return None
        return max(1, math.ceil(times[0] + self.window_s - time.monotonic()))

    def failed(self, client: str) -> None:
        if len(self._seen) >= MAX_CLIENTS:
            self._seen.clear()
        self._recent(client).append(time.monotonic())

    def _recent(self, client: str) -> deque[float]:
        times = self._seen.setdefault(client, deque())
        cutoff = time.monotonic() - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        return times
