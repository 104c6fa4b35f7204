"""What running Nix inside bubblewrap costs: the same tool calls with nix_isolation on and off.

Two in-process MCP servers (the official client over memory streams), one with
``nix_isolation = "bwrap"``, one with ``"off"``, take turns on a small local flake:

- ``nix_eval`` of a number (one ``nix`` process; bwrap adds its namespace and mounts);
- ``nix_build`` of an output that is already built: with "bwrap", ``eval --raw …drvPath``
  in the view, then ``nix build …drv`` outside it; with "off", one ``nix build FLAKE#ATTR``
  process, as before isolation.

Needs ``nix`` and ``bwrap``. Run: ``.venv/bin/python benchmarks/mcp_nix_isolation.py [--runs 15]``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from mcp import Client
from securellm.core.config import settings_from_mapping
from securellm.mcp.server import build_state, create_server
from securellm.mcp.state import ServerState

FLAKE = """{{ outputs = {{ self }}: {{
  lib.answer = 42;
  packages.x86_64-linux.hello = builtins.derivation {{
    name = "hello"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = "{nonce}";
    args = [ "-c" "echo hi > $out" ];
  }};
}}; }}
"""
OFFLINE = [
    "--option",
    "substituters",
    "",
    "--option",
    "extra-sandbox-paths",
    "/bin /usr /lib /lib64?",
]
Sample = Callable[[], Awaitable[None]]


def state_for(tmp: Path, isolation: str) -> ServerState:
    raw = {
        "data_dir": tmp,
        "state_dir": tmp,
        "log_dir": tmp,
        "mcp": {
            "knowledge_db_path": str(tmp / f"k-{isolation}.db"),
            "log_file": str(tmp / f"mcp-{isolation}.log"),
            "nix_extra_options": OFFLINE,
            "nix_allowed_roots": [str(tmp)],
            "nix_isolation": isolation,
        },
    }
    return build_state(settings_from_mapping(raw, env={}))


def tool_call(client: Client, name: str, arguments: dict[str, Any]) -> Sample:
    async def call() -> None:
        result = await client.call_tool(name, arguments)
        assert not result.is_error, result.content

    return call


async def measure(cases: dict[str, Sample], runs: int) -> dict[str, list[float]]:
    """Each case once per round, rounds interleaved, after one warm-up round."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(runs + 1):
        for name, sample in cases.items():
            started = time.perf_counter()
            await sample()
            if round_:
                samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def report(samples: dict[str, list[float]]) -> None:
    print(f"{'case':62} {'p50':>8} {'min':>8} {'max':>8}")
    for name, values in samples.items():
        line = f"{statistics.median(values):8.1f} {min(values):8.1f} {max(values):8.1f}"
        print(f"{name:62} {line}")


async def run(runs: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    flake = tmp / "flake"
    flake.mkdir()
    (flake / "flake.nix").write_text(FLAKE.format(nonce=uuid.uuid4().hex))
    states = {mode: state_for(tmp, mode) for mode in ("bwrap", "off")}
    servers = {mode: create_server(state.settings, state=state) for mode, state in states.items()}
    attr = "packages.x86_64-linux.hello"
    async with Client(servers["bwrap"]) as isolated, Client(servers["off"]) as plain:
        await tool_call(plain, "nix_build", {"flake_ref": str(flake), "attr": attr})()
        evals = {
            'nix_eval lib.answer, nix_isolation = "off"': tool_call(
                plain, "nix_eval", {"flake_ref": str(flake), "attr": "lib.answer"}
            ),
            'nix_eval lib.answer, nix_isolation = "bwrap"': tool_call(
                isolated, "nix_eval", {"flake_ref": str(flake), "attr": "lib.answer"}
            ),
        }
        builds = {
            'nix_build, nix_isolation = "off" (one nix build FLAKE#ATTR)': tool_call(
                plain, "nix_build", {"flake_ref": str(flake), "attr": attr}
            ),
            'nix_build, "bwrap" (eval drvPath in the view, build .drv)': tool_call(
                isolated, "nix_build", {"flake_ref": str(flake), "attr": attr}
            ),
        }
        print(f"{runs} interleaved runs each, after one warm-up; latency in ms")
        report(await measure(evals, runs))
        print()
        report(await measure(builds, runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    logging.disable(logging.INFO)  # the runner logs each nix start and end
    anyio.run(run, parser.parse_args().runs)


if __name__ == "__main__":
    main()
