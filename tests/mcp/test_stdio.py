"""The real server process on stdio: SDK stdio client, raw frames, hostile bytes, logging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.stdio import StdioServerParameters

from mcp import Client
from support.require import require_binary

SERVER = [sys.executable, "-m", "securellm.mcp"]
# As in conftest.py: no binary cache, and the host's /bin/sh visible to sandboxed builds.
NIX_OFFLINE = [
    "--option",
    "substituters",
    "",
    "--option",
    "extra-sandbox-paths",
    "/bin /usr /lib /lib64?",
]


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "KNOWLEDGE_DB_PATH": str(tmp_path / "knowledge.db"),
    }
    env.update(extra)
    return env


def write_config(tmp_path: Path, isolation: str = "bwrap") -> Path:
    path = tmp_path / "securellm.toml"
    options = json.dumps(NIX_OFFLINE)
    path.write_text(
        f'[mcp]\nnix_extra_options = {options}\nnix_allowed_roots = ["{tmp_path}"]\n'
        f'nix_isolation = "{isolation}"\n'
    )
    return path


def params(tmp_path: Path, isolation: str = "bwrap", **env: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=SERVER[0],
        args=[*SERVER[1:], "--config", str(write_config(tmp_path, isolation))],
        env=server_env(tmp_path, **env),
    )


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_stdio_client_negotiates_both_protocol_generations(
    tmp_path: Path, mode: str, version: str
) -> None:
    async with Client(params(tmp_path), mode=mode) as client:  # type: ignore[arg-type]
        tools = await client.list_tools()
        saved = await client.call_tool("knowledge_save", {"content": "over stdio"})
        found = await client.call_tool("knowledge_search", {"query": "stdio"})
        assert client.protocol_version == version
    assert len(tools.tools) == 27
    assert not saved.is_error
    assert found.structured_content["hits"][0]["entry"]["content"] == "over stdio"


async def test_tool_error_over_stdio_is_an_error_result(tmp_path: Path) -> None:
    async with Client(params(tmp_path)) as client:
        result = await client.call_tool("nix_eval", {"flake_ref": "$(id)", "attr": "x"})
    assert result.is_error


HOSTILE_FRAMES: list[bytes] = [
    b"this is not json\n",
    b'{"jsonrpc": "2.0", "id": 7, "method": \n',
    b"\xff\xfe\xfd invalid utf-8 \xc3\x28\n",
    b'{"jsonrpc":"2.0","id":8,"method":"no/such/method"}\n',
    b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"nix_build",'
    b'"arguments":{"flake_ref":"; rm -rf / #","attr":"$(reboot)"}}}\n',
    b'{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"knowledge_save",'
    b'"arguments":{"content":"' + b"A" * 2_000_000 + b'"}}}\n',
    b'{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"knowledge_get",'
    b'"arguments":{"id":"../../etc/passwd"}}}\n',
    b"[]\n",
    b'{"jsonrpc":"2.0","id":12,"method":"tools/list"}\n',
]


def _initialize() -> bytes:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "1"},
        },
    }
    done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    return (json.dumps(init) + "\n" + json.dumps(done) + "\n").encode()


LAST = b'{"jsonrpc":"2.0","id":"last","method":"ping"}\n'


def run_raw(tmp_path: Path, frames: list[bytes], **env: str) -> subprocess.CompletedProcess[bytes]:
    """Send frames, then a ping; keep stdin open until the ping's answer, then close it.

    (Closing stdin at once would end the session before the in-flight requests answer.)
    """
    process = subprocess.Popen(
        [*SERVER, "--config", str(write_config(tmp_path))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(tmp_path, **env),
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(_initialize() + b"".join(frames) + LAST)
    process.stdin.flush()
    out = b""
    for line in iter(process.stdout.readline, b""):
        out += line
        if b'"id":"last"' in line:
            break
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, out + stdout, stderr)


def test_every_stdout_line_is_json_rpc_even_under_hostile_frames(tmp_path: Path) -> None:
    done = run_raw(tmp_path, HOSTILE_FRAMES)
    lines = done.stdout.decode("utf-8").splitlines()
    messages: list[dict[str, Any]] = [json.loads(line) for line in lines]
    assert all(m.get("jsonrpc") == "2.0" for m in messages)
    by_id = {m.get("id"): m for m in messages}
    assert by_id[8]["error"]["code"] == -32601
    assert by_id[9]["result"]["isError"] is True
    assert by_id[10]["result"]["isError"] is True
    assert by_id[11]["result"]["isError"] is True
    assert len(by_id[12]["result"]["tools"]) == 27


def test_server_survives_hostile_frames_and_exits_cleanly(tmp_path: Path) -> None:
    done = run_raw(tmp_path, HOSTILE_FRAMES)
    assert done.returncode == 0


def test_logs_go_to_the_json_file_not_stderr(tmp_path: Path) -> None:
    done = run_raw(tmp_path, [HOSTILE_FRAMES[4]])
    log_file = tmp_path / "state" / "securellm" / "mcp.log"
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any(r["msg"] == "mcp server ready" for r in records)
    assert done.stderr == b""


def test_debug_to_stderr_mirrors_the_log(tmp_path: Path) -> None:
    done = run_raw(tmp_path, [], DEBUG_TO_STDERR="true")
    first = done.stderr.decode().splitlines()[0]
    assert "level" in json.loads(first)


def test_state_directory_holds_the_log_as_a_service(tmp_path: Path) -> None:
    state = tmp_path / "service-state"
    state.mkdir()
    run_raw(tmp_path, [], STATE_DIRECTORY=str(state))
    assert (state / "mcp.log").exists()


async def test_cancelled_build_kills_the_builder(tmp_path: Path) -> None:
    require_binary("nix")
    require_binary("bwrap")  # the Nix tools evaluate inside bubblewrap
    nonce = uuid.uuid4().hex
    flake = tmp_path / "flake"
    flake.mkdir()
    (flake / "flake.nix").write_text(
        "{ outputs = { self }: { packages.x86_64-linux.slow = builtins.derivation {\n"
        '  name = "slow"; system = "x86_64-linux"; builder = "/bin/sh";\n'
        f'  args = [ "-c" "echo started-{nonce} >&2; /bin/sleep 60; echo > $out" ]; }}; }}; }}\n'
    )
    started = anyio.Event()

    async def progress(done: float, total: float | None, message: str | None) -> None:
        if message and nonce in message:
            started.set()

    async with Client(params(tmp_path)) as client, anyio.create_task_group() as group:
        group.start_soon(
            client.call_tool,
            "nix_build",
            {"flake_ref": str(flake), "attr": "packages.x86_64-linux.slow"},
            None,
            progress,
        )
        with anyio.fail_after(60):
            await started.wait()
        group.cancel_scope.cancel()
    for _ in range(100):
        if subprocess.run(["pgrep", "-f", nonce], capture_output=True, check=False).returncode:
            break
        await anyio.sleep(0.1)
    else:
        pytest.fail("the build kept running after the request was cancelled")


@pytest.mark.parametrize(("isolation", "leaks"), [("bwrap", False), ("off", True)])
async def test_a_flake_input_outside_the_roots_is_read_only_without_isolation(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, isolation: str, leaks: bool
) -> None:
    """The attack over stdio, the config read from TOML: "off" shows the leak it prevents."""
    require_binary("nix")
    require_binary("bwrap")
    secret = tmp_path_factory.mktemp("outside") / "secret.txt"
    content = f"TOPSECRET-{uuid.uuid4().hex}"
    secret.write_text(content)
    flake = tmp_path / "flake"
    flake.mkdir()
    (flake / "flake.nix").write_text(
        f'{{ inputs.s = {{ url = "path:{secret}"; flake = false; }};\n'
        "  outputs = { self, s }: { x = builtins.readFile s; }; }\n"
    )
    async with Client(params(tmp_path, isolation)) as client:
        result = await client.call_tool("nix_eval", {"flake_ref": str(flake), "attr": "x"})
    text = " ".join(getattr(part, "text", "") for part in result.content)
    assert (content in text) is leaks
    assert result.is_error is not leaks
    if not leaks:
        assert f"getting status of '{secret}': No such file or directory" in text


def test_securellm_mcp_cli_answers_initialize(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from securellm.cli.main import main; main()", "mcp"]
    done = subprocess.run(
        command,
        input=_initialize(),
        capture_output=True,
        env=server_env(tmp_path),
        timeout=60,
        check=False,
    )
    reply = json.loads(done.stdout.decode().splitlines()[0])
    assert reply["result"]["serverInfo"]["name"] == "securellm"
