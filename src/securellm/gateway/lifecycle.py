"""Graceful shutdown: on SIGTERM/SIGINT mark the gateway as draining before uvicorn drains.

uvicorn installs its own handlers before the lifespan starts; we wrap them so ``/ready``
answers 503 from the first signal while in-flight requests (streams too) finish within
``drain_timeout_s`` (uvicorn's ``timeout_graceful_shutdown``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

DRAIN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def install_drain_hook(mark_draining: Callable[[], None]) -> Callable[[], None]:
    """Chain a handler that calls ``mark_draining`` first; returns a function that undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals belong to the main thread (tests run servers in threads)
    previous: dict[int, Any] = {}
    for sig in DRAIN_SIGNALS:
        prior = signal.getsignal(sig)
        previous[sig] = prior

        def handler(signum: int, frame: FrameType | None, prior: Any = prior) -> None:
            mark_draining()
            if callable(prior):
                prior(signum, frame)

        signal.signal(sig, handler)

    def restore() -> None:
        for sig, prior in previous.items():
            signal.signal(sig, prior)

    return restore
