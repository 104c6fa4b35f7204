"""Gateway overhead: direct to a fixed upstream vs through the gateway (virtual key), one run.

    .venv/bin/python benchmarks/gateway_overhead.py [--seconds 10] [--requests 2000]
        [--request-log]

Prints added p50/p99 latency at 1 connection and requests/s at 32 connections, with the
gateway on 2 workers. With ``--request-log``, a second gateway (request log on, stdout to a
pipe read by a thread, as journald would) runs beside one with it off, in the same run.
Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

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
    process,
    table,
    throughput,
)

BODY = b'{"model":"%s","messages":[{"role":"user","content":"What is the capital of France?"}]}'


def write_config(
    folder: Path, upstream: str, workers: int, *, cache: bool = False, access_log: bool = False
) -> Path:
    """The benchmark gateway: one provider, a fixed master key, the response cache off
    unless asked (identical benchmark requests would otherwise all be cache hits)."""
    config = folder / "bench.toml"
    config.write_text(
        f'data_dir = "{folder}/data"\nlog_dir = "{folder}/log"\n\n'
        f'[gateway]\nworkers = {workers}\nmaster_key = "{MASTER}"\n'
        f"access_log = {str(access_log).lower()}\n\n"
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


@contextmanager
def piped_gateway(config: Path) -> Iterator[str]:
    """``securellm gateway`` with stdout to a pipe that a thread reads (as journald would)."""
    port = free_port()
    argv = [sys.executable, "-m", "securellm", "gateway", "--config", str(config)]
    base = f"http://127.0.0.1:{port}"
    with process([*argv, "--port", str(port)], f"{base}/health", stdout=subprocess.PIPE) as proc:
        reader = threading.Thread(target=_discard, args=(proc.stdout,), daemon=True)
        reader.start()
        yield base


def _discard(stream: IO[bytes]) -> None:
    while stream.read(65536):
        pass


def measure(base: str, key: str, args: argparse.Namespace) -> tuple[Latency, Throughput]:
    url, auth = f"{base}/v1/chat/completions", {"Authorization": f"Bearer {key}"}
    lat = latency(url, BODY % b"bench/fixed", auth, args.requests)
    return lat, throughput(url, BODY % b"bench/fixed", auth, 32, args.seconds)


def request_log_rows(upstream: str, args: argparse.Namespace) -> list[tuple[str, ...]]:
    """The request log off and on, one gateway after the other, same upstream, same run."""
    rows = []
    for on in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            config = write_config(Path(tmp), upstream, args.workers, access_log=on)
            key = create_key(config)
            with piped_gateway(config) as base:
                lat, tp = measure(base, key, args)
        rows.append(row(f"gateway, request log {'on' if on else 'off'}", lat, tp))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--request-log", action="store_true", help="request log off vs on")
    args = parser.parse_args()
    header = ("path", "p50 ms (1 conn)", "p99 ms (1 conn)", "req/s (32 conns)", "non-2xx")
    with fixed_upstream() as upstream:
        if args.request_log:
            direct_url = f"{upstream}/chat/completions"
            d_lat = latency(direct_url, BODY % b"fixed", {}, args.requests)
            d_tp = throughput(direct_url, BODY % b"fixed", {}, 32, args.seconds)
            off, on = request_log_rows(upstream, args)
            print(table([header, row("direct upstream", d_lat, d_tp), off, on]))
            return
        with tempfile.TemporaryDirectory() as tmp:
            config = write_config(Path(tmp), upstream, args.workers)
            key = create_key(config)
            with gateway(config) as (base, _):
                direct_url = f"{upstream}/chat/completions"
                d_lat = latency(direct_url, BODY % b"fixed", {}, args.requests)
                g_lat, g_tp = measure(base, key, args)
                d_tp = throughput(direct_url, BODY % b"fixed", {}, 32, args.seconds)
    label = f"gateway ({args.workers} workers, virtual key)"
    print(table([header, row("direct upstream", d_lat, d_tp), row(label, g_lat, g_tp)]))
    print(
        f"\nadded latency: p50 {g_lat.p50_ms - d_lat.p50_ms:+.3f} ms, "
        f"p99 {g_lat.p99_ms - d_lat.p99_ms:+.3f} ms; "
        f"gateway throughput {g_tp.requests_per_s:.0f} req/s at 32 connections"
    )


if __name__ == "__main__":
    main()
