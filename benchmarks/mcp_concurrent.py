"""Response time of a simple call while a 30 s ``nix_build`` runs, on the real stdio server.

Baseline: the same call on the same server with nothing else running. Needs ``nix``.
Run: ``.venv/bin/python benchmarks/mcp_concurrent.py [--build-seconds 30] [--calls 50]``.
Goal: under 50 ms during the build.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import anyio
from mcp.client.stdio import StdioServerParameters

from mcp import Client

FLAKE = """{{ outputs = {{ self }}: {{ packages.x86_64-linux.slow = builtins.derivation {{
  name = "slow"; system = "x86_64-linux"; builder = "/bin/sh";
  args = [ "-c" "echo started-{nonce} >&2; /bin/sleep {seconds}; echo done > $out" ];
}}; }}; }}
"""


async def timed_calls(client: Client, calls: int) -> list[float]:
    samples = []
    for n in range(calls):
        started = time.perf_counter()
        name = "cache_stats" if n % 2 else "knowledge_recent"
        result = await client.call_tool(name, {})
        samples.append((time.perf_counter() - started) * 1000)
        assert not result.is_error
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{statistics.median(ordered):8.2f} {p95:8.2f} {ordered[-1]:8.2f}"


async def run(seconds: int, calls: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    nonce = uuid.uuid4().hex
    (tmp / "flake").mkdir()
    (tmp / "flake" / "flake.nix").write_text(FLAKE.format(nonce=nonce, seconds=seconds))
    config = tmp / "securellm.toml"
    # No binary cache; the host's /bin/sh visible to a sandboxed build; the flake allowed.
    sandbox = '"--option", "extra-sandbox-paths", "/bin /usr /lib /lib64?"'
    options = f'["--option", "substituters", "", {sandbox}]'
    config.write_text(f'[mcp]\nnix_extra_options = {options}\nnix_allowed_roots = ["{tmp}"]\n')
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "securellm.mcp", "--config", str(config)],
        env={**os.environ, "KNOWLEDGE_DB_PATH": str(tmp / "k.db"), "XDG_STATE_HOME": str(tmp)},
    )
    started = anyio.Event()
    build_time: list[float] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        if message and nonce in message:
            started.set()

    async with Client(params) as client:
        await timed_calls(client, 10)  # warm-up
        idle = await timed_calls(client, calls)

        async def build() -> None:
            t0 = time.perf_counter()
            result = await client.call_tool(
                "nix_build",
                {"flake_ref": str(tmp / "flake"), "attr": "packages.x86_64-linux.slow"},
                progress_callback=progress,
            )
            build_time.append(time.perf_counter() - t0)
            assert not result.is_error, result.content

        async with anyio.create_task_group() as group:
            group.start_soon(build)
            await started.wait()
            busy = await timed_calls(client, calls)
    print(f"{calls} calls each (knowledge_recent / cache_stats over stdio), latency in ms")
    print(f"{'situation':44} {'p50':>8} {'p95':>8} {'max':>8}")
    print(f"{'baseline: server idle':44} {summary(idle)}")
    print(f"{f'during a {seconds} s nix_build':44} {summary(busy)}")
    print(f"the build itself took {build_time[0]:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-seconds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    anyio.run(run, args.build_seconds, args.calls)


if __name__ == "__main__":
    main()
