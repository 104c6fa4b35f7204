"""Graceful shutdown: /ready fails while draining, and SIGTERM lets a running stream finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from starlette.requests import Request

from securellm.gateway.app import create_app
from securellm.gateway.routes.health import ready
from support.asgi_server import serve_app
from support.faulty_upstream import FaultyUpstream
from support.gateway import MASTER, make_settings
from support.require import free_port

AUTH = {"authorization": f"Bearer {MASTER}"}


@pytest.fixture
def upstream() -> Iterator[str]:
    with serve_app(FaultyUpstream().app()) as url:
        yield f"{url}/v1"


async def test_ready_answers_503_while_draining(tmp_path: Path, upstream: str) -> None:
    app = create_app(make_settings(tmp_path, [{"name": "up", "base_url": upstream}]))
    async with app.router.lifespan_context(app) as lifespan_state:
        scope = {"type": "http", "method": "GET", "path": "/ready", "headers": []}
        request = Request({**scope, "state": dict(lifespan_state)})
        assert (await ready(request)).status_code == 200
        lifespan_state["gateway"].mark_draining()
        response = await ready(request)
    assert response.status_code == 503
    assert b'"draining":true' in response.body


def _start_gateway(tmp_path: Path, upstream: str, port: int) -> subprocess.Popen[bytes]:
    config = tmp_path / "gw.toml"
    config.write_text(
        f'data_dir = "{tmp_path}/data"\nlog_dir = "{tmp_path}/log"\n'
        f'[gateway]\nmaster_key = "{MASTER}"\nport = {port}\ndrain_timeout_s = 10\n'
        f'[[providers]]\nname = "up"\nbase_url = "{upstream}"\n'
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "securellm", "gateway", "--config", str(config)]
    process = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gateway did not start")


def test_sigterm_lets_an_in_flight_stream_finish(tmp_path: Path, upstream: str) -> None:
    port = free_port()
    process = _start_gateway(tmp_path, upstream, port)
    body = {
        "model": "up/slow-stream",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    try:
        with httpx.stream(
            "POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=body, headers=AUTH
        ) as response:
            chunks = response.iter_bytes()
            received = next(chunks)
            process.send_signal(signal.SIGTERM)
            received += b"".join(chunks)
        exit_code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert response.status_code == 200
    assert received.count(b"part") == 10
    assert received.endswith(b"data: [DONE]\n\n")
    assert exit_code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it drained for
