"""``--http HOST:PORT``: the real server process, a bearer token on every request, Host and
Origin checked for every bind address; driven by the SDK's streamable HTTP client."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from mcp import Client
from support.require import free_port

TOKEN = "test-token-0123456789-abcdefghij"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    url: str
    host_header: str
    state: Path

    def stop(self) -> tuple[str, str]:
        self.process.terminate()
        out, err = self.process.communicate(timeout=30)
        return out.decode(), err.decode()


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "KNOWLEDGE_DB_PATH": str(tmp_path / "knowledge.db"),
        **extra,
    }


def write_config(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "securellm.toml"
    path.write_text("[mcp]\n" + "\n".join(lines) + "\n")
    return path


def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


def wait_listening(host: str, port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"server exited: {process.communicate()[1].decode()}")
        with socket.socket() as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"{host}:{port} never listened")


def start(tmp_path: Path, host: str = "127.0.0.1", config: list[str] | None = None) -> Running:
    port = free_port()
    lines = config if config is not None else [f'http_token_file = "{token_file(tmp_path)}"']
    command = [
        *(sys.executable, "-m", "securellm.mcp"),
        *("--config", str(write_config(tmp_path, lines))),
        *("--http", f"{host}:{port}"),
    ]
    process = subprocess.Popen(
        command, env=server_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wait_listening(host, port, process)
    state = tmp_path / "state" / "securellm"
    return Running(process, f"http://{host}:{port}/mcp", f"{host}:{port}", state)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    running = start(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def server_on_127_0_0_2(tmp_path: Path) -> Iterator[Running]:
    running = start(tmp_path, host="127.0.0.2")
    yield running
    running.stop()


async def post_initialize(url: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **headers})


async def list_tools_with(url: str, token: str | None, mode: str = "legacy") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with (
        httpx.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,  # type: ignore[arg-type]
    ):
        return await client.list_tools()


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_sdk_client_with_the_token_is_served(server: Running, mode: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        httpx.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(server.url, http_client=http), mode=mode) as client,  # type: ignore[arg-type]
    ):
        saved = await client.call_tool("knowledge_save", {"content": "over http"})
        found = await client.call_tool("knowledge_search", {"query": "http"})
    assert not saved.is_error
    assert found.structured_content["hits"]


async def test_the_sdk_client_without_the_token_cannot_connect(server: Running) -> None:
    with pytest.raises(ExceptionGroup) as caught:
        await list_tools_with(server.url, None)
    assert caught.group_contains(MCPError, match="error response")


async def test_a_request_without_the_token_gets_401_with_www_authenticate(server: Running) -> None:
    response = await post_initialize(server.url)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert response.json()["error"] == "invalid_token"


async def test_a_wrong_token_gets_401(server: Running) -> None:
    response = await post_initialize(server.url, Authorization="Bearer not-the-token-0123456789")
    assert response.status_code == 401


async def test_every_path_needs_the_token_or_does_not_exist(server: Running) -> None:
    async with httpx.AsyncClient() as http:
        other = await http.get(server.url.replace("/mcp", "/"))
        get_stream = await http.get(server.url, headers=MCP_HEADERS)
    assert other.status_code == 404
    assert get_stream.status_code == 401


async def test_the_token_is_accepted_on_a_raw_request(server: Running) -> None:
    response = await post_initialize(server.url, Authorization=f"Bearer {TOKEN}")
    assert response.status_code == 200


async def test_a_127_0_0_2_bind_is_served_under_its_own_address(
    server_on_127_0_0_2: Running,
) -> None:
    tools = await list_tools_with(server_on_127_0_0_2.url, TOKEN)
    assert len(tools.tools) == 27


async def test_a_foreign_host_header_is_refused_on_a_127_0_0_2_bind(
    server_on_127_0_0_2: Running,
) -> None:
    response = await post_initialize(
        server_on_127_0_0_2.url, Authorization=f"Bearer {TOKEN}", Host="attacker.com"
    )
    assert response.status_code == 421


async def test_an_evil_origin_is_refused_on_a_127_0_0_2_bind(
    server_on_127_0_0_2: Running,
) -> None:
    response = await post_initialize(
        server_on_127_0_0_2.url, Authorization=f"Bearer {TOKEN}", Origin="http://attacker.com"
    )
    assert response.status_code == 403


async def test_the_bind_address_origin_is_accepted(server_on_127_0_0_2: Running) -> None:
    origin = f"http://{server_on_127_0_0_2.host_header}"
    response = await post_initialize(
        server_on_127_0_0_2.url, Authorization=f"Bearer {TOKEN}", Origin=origin
    )
    assert response.status_code == 200


async def test_the_bind_address_behind_another_port_is_accepted(
    server_on_127_0_0_2: Running,
) -> None:
    """A published container port or a port-forward keeps the name and changes the port."""
    response = await post_initialize(
        server_on_127_0_0_2.url, Authorization=f"Bearer {TOKEN}", Host="127.0.0.2:9999"
    )
    assert response.status_code == 200


async def test_a_configured_host_name_is_accepted(tmp_path: Path) -> None:
    lines = [f'http_token_file = "{token_file(tmp_path)}"', 'http_allowed_hosts = ["mcp.example"]']
    running = start(tmp_path, config=lines)
    try:
        response = await post_initialize(
            running.url, Authorization=f"Bearer {TOKEN}", Host="mcp.example"
        )
    finally:
        running.stop()
    assert response.status_code == 200


async def test_first_start_generates_a_token_readable_by_its_owner_only(tmp_path: Path) -> None:
    running = start(tmp_path, config=[])
    path = running.state / "mcp-http-token"
    token = path.read_text().strip()
    tools = await list_tools_with(running.url, token)
    _, stderr = running.stop()
    assert len(tools.tools) == 27
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in stderr


async def test_the_token_never_reaches_stderr_or_the_log(tmp_path: Path) -> None:
    running = start(tmp_path, config=[])
    token = (running.state / "mcp-http-token").read_text().strip()
    await list_tools_with(running.url, token)
    await post_initialize(running.url, Authorization=f"Bearer {token}x")
    stdout, stderr = running.stop()
    log = (running.state / "mcp.log").read_text()
    assert "mcp http" in log
    assert token not in stdout + stderr + log


async def test_a_second_start_reuses_the_generated_token(tmp_path: Path) -> None:
    first = start(tmp_path, config=[])
    first.stop()
    token = (first.state / "mcp-http-token").read_text().strip()
    second = start(tmp_path, config=[])
    try:
        tools = await list_tools_with(second.url, token)
    finally:
        second.stop()
    assert len(tools.tools) == 27


def test_a_non_loopback_bind_without_a_usable_token_does_not_start(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, ['http_token_env = "SECURELLM_TEST_TOKEN_NOT_SET"'])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "securellm.mcp",
            "--config",
            str(config),
            "--http",
            f"0.0.0.0:{port}",
        ],
        env=server_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "SECURELLM_TEST_TOKEN_NOT_SET" in done.stderr
    assert "bearer token" in done.stderr


def test_a_token_that_is_too_short_does_not_start(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n")
    config = write_config(tmp_path, [f'http_token_file = "{short}"'])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "securellm.mcp",
            "--config",
            str(config),
            "--http",
            str(free_port()),
        ],
        env=server_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "shorter than 16 characters" in done.stderr
    assert "abc" not in done.stderr


def test_a_port_in_use_is_a_one_line_error_before_the_banner(tmp_path: Path) -> None:
    config = write_config(tmp_path, [f'http_token_file = "{token_file(tmp_path)}"'])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "securellm.mcp", "--config", str(config),
             "--http", f"127.0.0.1:{port}"],
            env=server_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "streamable HTTP at" not in done.stderr


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


async def test_tool_groups_options_and_prompts_over_http(tmp_path: Path) -> None:
    options = tmp_path / "options.json"
    options.write_text(
        json.dumps({"services.nginx.enable": {"description": "Whether to enable Nginx.",
                                              "type": "boolean", "loc": ["services"]}})
    )  # fmt: skip
    lines = [
        f'http_token_file = "{token_file(tmp_path)}"',
        'tools = ["nix", "security"]',
        f'nix_options_files = {{ nixos = "{options}" }}',
    ]
    running = start(tmp_path, config=lines)
    try:
        async with (
            httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
            Client(streamable_http_client(running.url, http_client=http)) as client,
        ):
            tools = await client.list_tools()
            found = await client.call_tool("nixos_options_search", {"query": "nginx"})
            prompts = await client.list_prompts()
    finally:
        running.stop()
    assert not any(tool.name.startswith("knowledge_") for tool in tools.tools)
    assert found.structured_content["options"][0]["name"] == "services.nginx.enable"
    assert [prompt.name for prompt in prompts.prompts] == ["audit_nixos_repo"]
