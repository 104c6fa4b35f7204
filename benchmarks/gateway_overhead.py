"""Gateway overhead: direct to a fixed upstream vs through the gateway (virtual key), one run.

    .venv/bin/python benchmarks/gateway_overhead.py [--seconds 10] [--requests 2000]

Prints added p50/p99 latency at 1 connection and requests/s at 32 connections, with the
gateway on 2 workers. Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (
    MASTER,
    Latency,
    Throughput,
    create_key,
    fixed_upstream,
    gateway,
    latency,
    table,
    throughput,
)

BODY = b'{"model":"%s","messages":[{"role":"user","content":"What is the capital of France?"}]}'


def write_config(folder: Path, upstream: str, workers: int, *, cache: bool = False) -> Path:
    """The benchmark gateway: one provider, a fixed master key, the response cache off
    unless asked (identical benchmark requests would otherwise all be cache hits)."""
    config = folder / "bench.toml"
    config.write_text(
        f'data_dir = "{folder}/data"\nlog_dir = "{folder}/log"\n\n'
        f'[gateway]\nworkers = {workers}\nmaster_key = "{MASTER}"\n\n'
        f"[cache]\nenabled = {str(cache).lower()}\n\n"
        f'[[providers]]\nname = "bench"\nbase_url = "{upstream}"\nmodels = ["fixed"]\n'
    )
    return config


def row(label: str, lat: Latency, tp: Throughput) -> tuple[str, ...]:
    return (
        label,
        f"{lat.p50_ms:.3f}",
        f"{lat.p99_ms:.3f}",
        f"{tp.requests_per_s:.0f}",
        str(tp.errors),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with fixed_upstream() as upstream, tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), upstream, args.workers)
        key = create_key(config)
        with gateway(config) as (base, _):
            direct_url, via_url = f"{upstream}/chat/completions", f"{base}/v1/chat/completions"
            auth = {"Authorization": f"Bearer {key}"}
            d_lat = latency(direct_url, BODY % b"fixed", {}, args.requests)
            g_lat = latency(via_url, BODY % b"bench/fixed", auth, args.requests)
            d_tp = throughput(direct_url, BODY % b"fixed", {}, 32, args.seconds)
            g_tp = throughput(via_url, BODY % b"bench/fixed", auth, 32, args.seconds)
    label = f"gateway ({args.workers} workers, virtual key)"
    rows = [
        ("path", "p50 ms (1 conn)", "p99 ms (1 conn)", "req/s (32 conns)", "non-2xx"),
        row("direct upstream", d_lat, d_tp),
        row(label, g_lat, g_tp),
    ]
    print(table(rows))
    print(
        f"\nadded latency: p50 {g_lat.p50_ms - d_lat.p50_ms:+.3f} ms, "
        f"p99 {g_lat.p99_ms - d_lat.p99_ms:+.3f} ms; "
        f"gateway throughput {g_tp.requests_per_s:.0f} req/s at 32 connections"
    )


if __name__ == "__main__":
    main()
