"""The process backend with real child processes: start, health wait, failure, clean stop.

The commands are small Python programs standing in for a model server's process behaviour
(crash at start, never healthy, ignore SIGTERM); the real server is in ``test_live.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from securellm.offload.backends.base import ServerState
from securellm.offload.backends.llamacpp import LlamaCppServer, render_command
from securellm.offload.errors import BackendError, LoadTimeout
from support.require import free_port

# a server on argv[1] answering 200 to every GET, that ignores SIGTERM when argv[2] == "stubborn"
HTTP_SERVER = """
import http.server, signal, sys
if sys.argv[2] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
print("CUDA0 model buffer size =   100.00 MiB", flush=True)
print("CUDA0 KV buffer size =    10.00 MiB", flush=True)
print("CUDA0 compute buffer size =    20.00 MiB", flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()
"""


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def _server(
    tmp_path: Path, session: aiohttp.ClientSession, argv: list[str], port: int, **kw: float
) -> LlamaCppServer:
    return LlamaCppServer("m", argv, port, tmp_path / "m.log", session, health_path="/", **kw)


def test_command_template_is_filled_as_argv() -> None:
    argv = render_command(
        ("llama-server", "-m", "{model}", "--port", "{port}", "-c", "{ctx}"),
        {"model": "/m/a b.gguf", "port": "9100", "ctx": "4096"},
    )
    assert argv == ["llama-server", "-m", "/m/a b.gguf", "--port", "9100", "-c", "4096"]


async def test_healthy_server_is_ready_and_its_buffers_are_read(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    port = free_port()
    server = _server(tmp_path, session, [sys.executable, "-c", HTTP_SERVER, str(port), "ok"], port)
    await server.start()
    try:
        assert server.state is ServerState.READY
        assert await server.measured_vram_mib() == 130
    finally:
        await server.stop()
    assert server.state is ServerState.STOPPED


async def test_crash_at_start_is_a_backend_error_with_the_log(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    argv = [sys.executable, "-c", "import sys; print('cannot open model'); sys.exit(3)"]
    server = _server(tmp_path, session, argv, free_port())
    with pytest.raises(BackendError, match=r"exited with code 3.*cannot open model"):
        await server.start()
    assert server.state is ServerState.STOPPED


async def test_missing_binary_is_a_backend_error(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    server = _server(tmp_path, session, ["/nonexistent/llama-server"], free_port())
    with pytest.raises(BackendError, match="cannot start"):
        await server.start()


async def test_never_healthy_server_times_out_and_is_killed(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    server = _server(tmp_path, session, argv, free_port(), load_timeout_s=0.5)
    with pytest.raises(LoadTimeout) as info:
        await server.start()
    assert info.value.status == 504
    assert server.state is ServerState.STOPPED


async def test_server_ignoring_sigterm_is_killed(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    port = free_port()
    argv = [sys.executable, "-c", HTTP_SERVER, str(port), "stubborn"]
    server = _server(tmp_path, session, argv, port, stop_timeout_s=0.3)
    await server.start()
    pid = server.pid
    await server.stop()
    assert server.state is ServerState.STOPPED
    assert pid is not None
    assert not Path(f"/proc/{pid}").exists()


async def test_server_that_dies_reports_failed(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    port = free_port()
    server = _server(tmp_path, session, [sys.executable, "-c", HTTP_SERVER, str(port), "ok"], port)
    await server.start()
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    for _ in range(100):
        if server.state is ServerState.FAILED:
            break
        await asyncio.sleep(0.05)
    assert server.state is ServerState.FAILED
    await server.stop()
