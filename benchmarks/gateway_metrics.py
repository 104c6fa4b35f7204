"""Metrics cost per request: the in-process registry vs prometheus-client's multiprocess mode.

    .venv/bin/python benchmarks/gateway_metrics.py [--requests 20000] [--rounds 5] [--keys 50]

``securellm gateway --workers N`` (N > 1) runs prometheus-client in multiprocess mode, where
every counter increment and histogram observation is also written to an mmap file; one worker
(and ``create_app``) keeps an in-process registry. The mode is fixed when prometheus-client is
imported, so each mode runs in a fresh child process, one after the other and interleaved over
``--rounds``; the best round of each is shown. What is timed is ``Metrics.record`` for one
finished chat request (endpoint, provider, key, tokens, cost, time to first token), i.e. the
per-request work of the metrics sink, and ``Metrics.render`` (a scrape) after the run.
Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import table


def _measure(requests: int, keys: int) -> dict[str, float]:
    """Runs in the child: time ``record`` over ``requests`` contexts and one ``render``."""
    from securellm.gateway.context import RequestContext
    from securellm.gateway.keys import KeyRecord
    from securellm.gateway.metrics import Metrics
    from securellm.gateway.resilience.breaker import CircuitState
    from securellm.providers.base import Usage

    metrics = Metrics(circuits=lambda: {"bench": CircuitState.CLOSED})
    records = [KeyRecord(id=f"key_{n:016x}", name=f"k{n}") for n in range(keys)]
    contexts = []
    for n in range(requests):
        ctx = RequestContext(endpoint="chat_completions", key=records[n % keys])
        ctx.provider, ctx.upstream_model = "bench", "fixed"
        ctx.usage = Usage(prompt_tokens=12, completion_tokens=30)
        ctx.cost_usd, ctx.first_byte_at = 0.00001, ctx.started + 0.01
        contexts.append(ctx)
    started = time.perf_counter()
    for ctx in contexts:
        metrics.record(ctx)
    recorded = time.perf_counter() - started
    started = time.perf_counter()
    body = metrics.render()
    rendered = time.perf_counter() - started
    return {"record_us": recorded / requests * 1e6, "render_ms": rendered * 1e3, "bytes": len(body)}


def _child(mode: str, requests: int, keys: int) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with tempfile.TemporaryDirectory(prefix="securellm-bench-metrics-") as folder:
        if mode == "multiprocess":
            env["PROMETHEUS_MULTIPROC_DIR"] = folder
        argv = [sys.executable, __file__, "--child", "--requests", str(requests),
                "--keys", str(keys)]  # fmt: skip
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.requests, args.keys)))
        return
    modes = ("in-process", "multiprocess")
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for mode in modes:
            result = _child(mode, args.requests, args.keys)
            if mode not in best or result["record_us"] < best[mode]["record_us"]:
                best[mode] = result
    base = best["in-process"]["record_us"]
    rows = [["registry", "record µs/request", "vs in-process", "scrape ms", "scrape bytes"]]
    for mode in modes:
        figures = best[mode]
        rows.append(
            [
                mode,
                f"{figures['record_us']:.2f}",
                f"+{figures['record_us'] - base:.2f} µs",
                f"{figures['render_ms']:.2f}",
                str(int(figures["bytes"])),
            ]
        )
    print(f"{args.requests} requests over {args.keys} keys, best of {args.rounds} rounds")
    print(table(rows))


if __name__ == "__main__":
    main()
