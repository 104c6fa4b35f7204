"""Audit durability cost: responses that wait for their record vs interval batching, one run.

    .venv/bin/python benchmarks/gateway_audit.py [--seconds 8] [--requests 2000] [--rounds 2]

Same fixed-response upstream, master key, limits and response cache off, one gateway
configuration after the other:
  audit off         [audit] enabled = false (the floor)
  interval          [audit] durable = false: records written every 200 ms, nothing waits
                    (before issue 12; a SIGKILL loses up to one interval of records)
  durable           the default: a response goes out once its record is in the file;
                    records finished in one loop turn share one write (group commit)
  durable + fsync   the same with fsync = true (one fsync per write)
For each: p50/p99 on one keep-alive connection (sequential), then req/s, p50 and p99 with
``--connections`` concurrent clients (aiohttp, in this process), and the gateway's CPU per
request. Each configuration runs ``--rounds`` times, interleaved; the best run is shown.
Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gateway_security import cpu_seconds
from benchmarks.harness import MASTER, Latency, fixed_upstream, gateway, latency, table, wait_http

BODY = (
    b'{"model":"bench/fixed",'
    b'"messages":[{"role":"user","content":"What is the capital of France?"}]}'
)
AUTH = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json"}
VARIANTS = {
    "audit off": "enabled = false",
    "interval": "durable = false",
    "durable": "durable = true",
    "durable + fsync": "durable = true\nfsync = true",
}


def write_config(folder: Path, upstream: str, audit: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "bench.toml"
    config.write_text(
        f'data_dir = "{folder}/data"\nlog_dir = "{folder}/log"\n\n'
        f'[gateway]\nmaster_key = "{MASTER}"\nlimits_enabled = false\n\n'
        f"[audit]\n{audit}\n\n[cache]\nenabled = false\n\n"
        f'[[providers]]\nname = "bench"\nbase_url = "{upstream}"\nmodels = ["fixed"]\n'
    )
    return config


@dataclass
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


async def _load(url: str, connections: int, seconds: float) -> Load:
    samples: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.post(url, data=BODY, headers=AUTH) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            samples.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(connections)))
        elapsed = time.perf_counter() - began
    samples.sort()
    return Load(
        len(samples) / elapsed,
        statistics.median(samples),
        samples[int(len(samples) * 0.99) - 1],
        errors,
    )


@dataclass
class Result:
    single: Latency
    load: Load
    cpu_us: float


def measure(config: Path, args: argparse.Namespace) -> Result:
    with gateway(config) as (base, proc):
        wait_http(f"{base}/ready")
        url = f"{base}/v1/chat/completions"
        single = latency(url, BODY, {"Authorization": AUTH["Authorization"]}, args.requests)
        before = cpu_seconds(proc.pid)
        load = asyncio.run(_load(url, args.connections, args.seconds))
        used = cpu_seconds(proc.pid) - before
    cpu_us = used / max(load.requests_per_s * args.seconds, 1) * 1e6
    return Result(single, load, cpu_us)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="Interleaved runs; best is kept.")
    args = parser.parse_args()
    best: dict[str, Result] = {}
    with fixed_upstream() as upstream, tempfile.TemporaryDirectory() as tmp:
        configs = {
            label: write_config(Path(tmp) / str(i), upstream, audit)
            for i, (label, audit) in enumerate(VARIANTS.items())
        }
        for _ in range(args.rounds):
            for label, config in configs.items():
                result = measure(config, args)
                rps = result.load.requests_per_s
                if label not in best or rps > best[label].load.requests_per_s:
                    best[label] = result
    n = args.connections
    rows = [
        (
            "audit",
            "p50 ms (1 conn)",
            "p99 ms (1 conn)",
            f"req/s ({n} conns)",
            f"p50 ms ({n})",
            f"p99 ms ({n})",
            "gateway CPU us/req",
            "non-2xx",
        )
    ]
    for label, r in best.items():
        rows.append(
            (
                label,
                f"{r.single.p50_ms:.3f}",
                f"{r.single.p99_ms:.3f}",
                f"{r.load.requests_per_s:.0f}",
                f"{r.load.p50_ms:.2f}",
                f"{r.load.p99_ms:.2f}",
                f"{r.cpu_us:.0f}",
                str(r.load.errors),
            )
        )
    print(table(rows))
    base = best["interval"]
    for label in ("durable", "durable + fsync"):
        r = best[label]
        change = 100 * (r.load.requests_per_s / base.load.requests_per_s - 1)
        print(
            f"{label} vs interval: p50 (1 conn) {r.single.p50_ms - base.single.p50_ms:+.3f} ms, "
            f"throughput {change:+.1f}%, {r.cpu_us - base.cpu_us:+.0f} us of gateway CPU "
            "per request"
        )


if __name__ == "__main__":
    main()
