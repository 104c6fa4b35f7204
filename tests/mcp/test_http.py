"""``--http HOST:PORT``: streamable HTTP on 127.0.0.1, driven by the SDK's HTTP client."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from mcp import Client
from support.require import free_port


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "KNOWLEDGE_DB_PATH": str(tmp_path / "knowledge.db"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "securellm.mcp", "--http", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    yield f"http://127.0.0.1:{port}/mcp"
    process.terminate()
    process.wait(timeout=30)


async def connect_when_up(url: str) -> None:
    for _ in range(100):
        try:
            async with Client(url) as client:
                await client.list_tools()
                return
        except Exception:
            await anyio.sleep(0.1)
    pytest.fail(f"{url} never answered")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_http_transport_serves_tools(http_server: str, mode: str) -> None:
    await connect_when_up(http_server)
    async with Client(http_server, mode=mode) as client:  # type: ignore[arg-type]
        saved = await client.call_tool("knowledge_save", {"content": "over http"})
        found = await client.call_tool("knowledge_search", {"query": "http"})
    assert not saved.is_error
    assert found.structured_content["hits"]


def test_bad_http_address_exits_with_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "securellm.mcp", "--http", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "HOST:PORT" in done.stderr
