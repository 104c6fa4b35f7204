"""Security layer cost: the gateway with audit + limits off vs on, side by side in one run.

    .venv/bin/python benchmarks/gateway_security.py [--seconds 10] [--requests 2000] [--workers 1]

Same fixed-response upstream, same virtual key, response cache off (every request reaches
the upstream), one gateway configuration after the other:
  off                     [audit] enabled = false, [gateway] limits_enabled = false
  on (memory)             audit trail (hash chain, DB index) + key rpm/tpm/concurrency, in-process
  on (redis)              the same with the limits shared in a local Redis
  on + budget, old path   in-process limits and a USD budget on the key, every reservation
                          and settlement a hand-off to the budget thread and a transaction of
                          its own ([gateway] budget_fast_path = false: the path before)
  on + budget             the same with reservations on the event loop's thread while
                          SQLite's write lock is free, and settlements folded per key and
                          period into one transaction per flush
Each configuration runs ``--rounds`` times, interleaved, and its best run is shown (this
2-core box is noisy). Then the budget ledger alone, in this process: CPU per reserve +
settle, old path and batched, side by side. Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (
    MASTER,
    Latency,
    Throughput,
    create_key,
    fixed_upstream,
    free_port,
    gateway,
    latency,
    table,
    throughput,
    wait_http,
)
from securellm.core.db import create_engine
from securellm.gateway.migrations import upgrade
from securellm.gateway.spend import BudgetLedger, Hold

BODY = (
    b'{"model":"bench/fixed",'
    b'"messages":[{"role":"user","content":"What is the capital of France?"}]}'
)
LIMITS = ["--rpm", "100000000", "--tpm", "1000000000", "--max-concurrency", "10000"]


def write_config(
    folder: Path,
    upstream: str,
    workers: int,
    *,
    on: bool,
    redis: str | None,
    fast: bool = True,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    gateway = f'workers = {workers}\nmaster_key = "{MASTER}"\nlimits_enabled = {str(on).lower()}\n'
    gateway += f"budget_fast_path = {str(fast).lower()}\n"
    if redis:
        gateway += f'redis_url = "{redis}"\n'
    config = folder / "bench.toml"
    config.write_text(
        f'data_dir = "{folder}/data"\nlog_dir = "{folder}/log"\n\n'
        f"[gateway]\n{gateway}\n"
        # A budgeted key is refused a model with no known price.
        '[gateway.prices."bench/fixed"]\ninput = 0.15\noutput = 0.6\n\n'
        f"[audit]\nenabled = {str(on).lower()}\n\n"
        "[cache]\nenabled = false\n\n"
        f'[[providers]]\nname = "bench"\nbase_url = "{upstream}"\nmodels = ["fixed"]\n'
    )
    return config


@contextmanager
def redis_server() -> Iterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    latency: Latency
    throughput: Throughput
    cpu_us: float  # gateway CPU per request under load


def measure(config: Path, key: str, args: argparse.Namespace) -> Result:
    with gateway(config) as (base, proc):
        wait_http(f"{base}/ready")
        url, auth = f"{base}/v1/chat/completions", {"Authorization": f"Bearer {key}"}
        lat = latency(url, BODY, auth, args.requests)
        before = cpu_seconds(proc.pid)
        tp = throughput(url, BODY, auth, 32, args.seconds)
        used = cpu_seconds(proc.pid) - before
    return Result(lat, tp, used / max(tp.requests_per_s * args.seconds, 1) * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2, help="Interleaved runs; best is kept.")
    parser.add_argument("--ledger-requests", type=int, default=5000)
    args = parser.parse_args()
    best: dict[str, Result] = {}
    with (
        fixed_upstream() as upstream,
        redis_server() as redis,
        tempfile.TemporaryDirectory() as tmp,
    ):
        budget = [*LIMITS, "--budget", "1000000", "--period", "day"]
        variants = [
            ("off", False, None, LIMITS, True),
            ("on (memory limits)", True, None, LIMITS, True),
            ("on (redis limits)", True, redis, LIMITS, True),
            ("on + budget, old path", True, None, budget, False),
            ("on + budget", True, None, budget, True),
        ]
        prepared = []
        for index, (label, on, redis_url, options, fast) in enumerate(variants):
            if label == "on (redis limits)" and redis_url is None:
                continue
            folder = Path(tmp) / str(index)
            config = write_config(folder, upstream, args.workers, on=on, redis=redis_url, fast=fast)
            prepared.append((label, config, create_key(config, *options)))
        for _ in range(args.rounds):  # off, on, ... then again: order effects even out
            for label, config, key in prepared:
                result = measure(config, key, args)
                rps = result.throughput.requests_per_s
                if label not in best or rps > best[label].throughput.requests_per_s:
                    best[label] = result
    header = ("audit + limits", "p50 ms (1 conn)", "p99 ms (1 conn)", "req/s (32 conns)")
    rows = [(*header, "gateway CPU us/req", "non-2xx")]
    for label, r in best.items():
        rows.append(
            (
                label,
                f"{r.latency.p50_ms:.3f}",
                f"{r.latency.p99_ms:.3f}",
                f"{r.throughput.requests_per_s:.0f}",
                f"{r.cpu_us:.0f}",
                str(r.throughput.errors),
            )
        )
    print(table(rows))
    base = best["off"]
    for label, r in list(best.items())[1:]:
        change = 100 * (r.throughput.requests_per_s / base.throughput.requests_per_s - 1)
        print(
            f"{label}: throughput {change:+.1f}% vs off, "
            f"{r.cpu_us - base.cpu_us:+.0f} us of gateway CPU per request"
        )
    memory = best["on (memory limits)"]
    for label in ("on + budget, old path", "on + budget"):
        print(f"{label}: the budget path costs {best[label].cpu_us - memory.cpu_us:+.0f} us of")
        print("  gateway CPU per request over on (memory limits)")
    print()
    print(ledger_table(args.ledger_requests))


def ledger_table(requests: int) -> str:
    """Reserve + settle through BudgetLedger on a SQLite file, 32 requests in flight."""
    rows = [("budget ledger (SQLite)", "CPU us per request", "wall us per request")]
    for label, fast in (("old path", False), ("loop thread + batched settle", True)):
        with tempfile.TemporaryDirectory() as tmp:
            cpu, wall = asyncio.run(ledger_run(Path(tmp) / "budget.db", fast, requests))
        rows.append((label, f"{cpu:.0f}", f"{wall:.0f}"))
    return table(rows)


async def ledger_run(path: Path, fast: bool, requests: int) -> tuple[float, float]:
    engine = create_engine(f"sqlite:///{path}")
    await upgrade(engine)
    ledger = BudgetLedger(engine, fast=fast)

    async def one(i: int) -> None:
        hold = await ledger.reserve(f"key-{i % 4}", "day", 10**15, 5_000)
        assert isinstance(hold, Hold)
        await asyncio.sleep(0)  # the upstream call
        ledger.settle(hold, 1_000)

    await asyncio.gather(*(one(i) for i in range(64)))  # warm up
    await ledger.drain()
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, requests, 32):
        await asyncio.gather(*(one(i) for i in range(start, min(start + 32, requests))))
    await ledger.drain()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    ledger.close()
    await engine.dispose()
    return cpu / requests * 1e6, wall / requests * 1e6


if __name__ == "__main__":
    main()
