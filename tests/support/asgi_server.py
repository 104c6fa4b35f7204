"""Run an ASGI app on a real socket (uvicorn in a thread), for tests and benchmarks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from support.require import free_port


@contextmanager
def serve_app(app: Any, *, port: int | None = None, **options: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and yield its base URL; stops (with lifespan) on exit."""
    chosen = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=chosen,
        log_level="warning",
        access_log=False,
        lifespan="on",
        **options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{chosen}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
