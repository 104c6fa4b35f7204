"""knowledge_related and linked search results from a real ``securellm mcp`` process, with
the official client over stdio and over streamable HTTP (a synced folder on the way)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from mcp import Client
from support.require import free_port

TOKEN = "links-token-0123456789-abcdefghij"


def config(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "securellm.toml"
    body = "\n".join([f'knowledge_db_path = "{tmp_path / "kb.db"}"', *lines])
    path.write_text(f"[mcp]\n{body}\n")
    return path


def env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}


async def link_three(client: Client) -> dict[str, int]:
    ids = {}
    for title, content in (
        ("Eviction", "the cache evicts with [[LRU]]"),
        ("LRU", "least recently used, see [[Clock]]"),
        ("Clock", "a cheaper approximation"),
    ):
        result = await client.call_tool("knowledge_save", {"title": title, "content": content})
        assert not result.is_error, result.content
        ids[title] = result.structured_content["id"]
    return ids


def by_title(result: Any) -> dict[str, int]:
    assert not result.is_error, result.content
    return {r["entry"]["title"]: r["distance"] for r in result.structured_content["related"]}


async def test_related_over_stdio(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "securellm.mcp", "--config", str(config(tmp_path))],
        env=env(tmp_path),
    )
    async with Client(params) as client:
        ids = await link_three(client)
        related = await client.call_tool("knowledge_related", {"id": ids["Eviction"], "depth": 2})
        search = await client.call_tool(
            "knowledge_search", {"query": "evicts", "include_linked": True}
        )
    assert by_title(related) == {"LRU": 1, "Clock": 2}
    assert [e["title"] for e in search.structured_content["linked"]] == ["LRU"]


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"server exited: {process.communicate()[1].decode()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail("the server never listened")


async def test_related_over_streamable_http_with_a_synced_folder(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    folder = tmp_path / "notes"
    port = free_port()
    path = config(tmp_path, f'http_token_file = "{token}"', f'knowledge_sync_dir = "{folder}"')
    command = [sys.executable, "-m", "securellm.mcp", "--config", str(path)]
    process = subprocess.Popen(
        [*command, "--http", f"127.0.0.1:{port}"],
        env=env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_listening(port, process)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            httpx.AsyncClient(headers=headers) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            ids = await link_three(client)
            related = await client.call_tool("knowledge_related", {"id": ids["Clock"]})
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert by_title(related) == {"LRU": 1}
    assert sorted(p.name[:-12] for p in folder.glob("*.md")) == ["clock", "eviction", "lru"]
