"""Security layer cost: the gateway with audit + limits off vs on, side by side in one run.

    .venv/bin/python benchmarks/gateway_security.py [--seconds 10] [--requests 2000] [--workers 1]

Same fixed-response upstream, same virtual key, response cache off (every request reaches
the upstream), one gateway configuration after the other:
  off            [audit] enabled = false, [gateway] limits_enabled = false
  on (memory)    audit trail (hash chain, DB index) + key rpm/tpm/concurrency, in-process
  on (redis)     the same with the limits shared in a local Redis
  on + budget    in-process limits and a USD budget on the key (two DB writes per request)
Each configuration runs ``--rounds`` times, interleaved, and its best run is shown (this
2-core box is noisy). Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
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

BODY = (
    b'{"model":"bench/fixed",'
    b'"messages":[{"role":"user","content":"What is the capital of France?"}]}'
)
LIMITS = ["--rpm", "100000000", "--tpm", "1000000000", "--max-concurrency", "10000"]


def write_config(folder: Path, upstream: str, workers: int, *, on: bool, redis: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    gateway = f'workers = {workers}\nmaster_key = "{MASTER}"\nlimits_enabled = {str(on).lower()}\n'
    if redis:
        gateway += f'redis_url = "{redis}"\n'
    config = folder / "bench.toml"
    config.write_text(
        f'data_dir = "{folder}/data"\nlog_dir = "{folder}/log"\n\n'
        f"[gateway]\n{gateway}\n[audit]\nenabled = {str(on).lower()}\n\n"
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
    args = parser.parse_args()
    best: dict[str, Result] = {}
    with (
        fixed_upstream() as upstream,
        redis_server() as redis,
        tempfile.TemporaryDirectory() as tmp,
    ):
        variants = [
            ("off", False, None, LIMITS),
            ("on (memory limits)", True, None, LIMITS),
            ("on (redis limits)", True, redis, LIMITS),
            ("on + budget", True, None, [*LIMITS, "--budget", "1000000", "--period", "day"]),
        ]
        prepared = []
        for index, (label, on, redis_url, options) in enumerate(variants):
            if label == "on (redis limits)" and redis_url is None:
                continue
            folder = Path(tmp) / str(index)
            config = write_config(folder, upstream, args.workers, on=on, redis=redis_url)
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


if __name__ == "__main__":
    main()
