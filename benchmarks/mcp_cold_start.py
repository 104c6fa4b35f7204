"""Cold start of the MCP server: process spawn to the ``initialize`` result, on stdio.

Side by side: the bare interpreter, a one-tool server on the SDK's own ``MCPServer`` (the floor
any server on this SDK pays), ``python -m securellm.mcp`` and the ``securellm mcp`` CLI.
Run: ``.venv/bin/python benchmarks/mcp_cold_start.py [--runs 15]``. Goal: under 500 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INIT = (
    json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        }
    )
    + "\n"
).encode()

MINIMAL_SERVER = """
from mcp.server.mcpserver import MCPServer
server = MCPServer("minimal")
@server.tool()
def ping() -> str:
    return "pong"
server.run()
"""


def time_to_initialize(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to the first line on stdout (the initialize result)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(INIT)
    process.stdin.flush()
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.stdin.close()
    process.wait(timeout=30)
    if b'"result"' not in line:
        raise RuntimeError(f"{command} did not answer initialize: {line[:200]!r}")
    return elapsed


def time_interpreter(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    tmp = Path(tempfile.mkdtemp())
    env = {
        **os.environ,
        "KNOWLEDGE_DB_PATH": str(tmp / "k.db"),
        "XDG_STATE_HOME": str(tmp / "state"),
    }
    env.pop("SECURELLM_CONFIG", None)
    cli = [sys.executable, "-c", "from securellm.cli.main import main; main()", "mcp"]
    cases: list[tuple[str, object]] = [
        ("python -c pass (interpreter only)", None),
        ("SDK MCPServer, one tool (floor)", [sys.executable, "-c", MINIMAL_SERVER]),
        ("python -m securellm.mcp", [sys.executable, "-m", "securellm.mcp"]),
        ("securellm mcp (full CLI)", cli),
    ]
    print(f"cold start, spawn -> initialize result, {runs} runs each, interleaved (ms)")
    print(f"{'case':40} {'p50':>8} {'min':>8} {'max':>8}")
    samples: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(runs):  # round-robin, so load from other jobs hits every case alike
        for name, command in cases:
            if command is None:
                samples[name].append(time_interpreter(env))
            else:
                samples[name].append(time_to_initialize(command, env))  # type: ignore[arg-type]
    for name, values in samples.items():
        ms = [s * 1000 for s in values]
        print(f"{name:40} {statistics.median(ms):8.0f} {min(ms):8.0f} {max(ms):8.0f}")


if __name__ == "__main__":
    main()
