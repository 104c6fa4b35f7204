"""Responses API translation overhead: the same question through ``/v1/chat/completions``
(chat passthrough) and through ``/v1/responses`` (translated to chat and back), one gateway,
one run.

    .venv/bin/python benchmarks/responses_overhead.py [--seconds 10] [--requests 2000]

Prints p50/p99 latency at 1 connection and requests/s at 32 connections for: the fixed
upstream directly (the baseline), chat through the gateway, Responses with ``store: false``
(translation only) and Responses stored (translation plus the row in the gateway's SQLite
database). Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gateway_overhead import row, write_config
from benchmarks.harness import create_key, fixed_upstream, gateway, latency, table, throughput

QUESTION = "What is the capital of France?"
CHAT = b'{"model":"%s","messages":[{"role":"user","content":"' + QUESTION.encode() + b'"}]}'
RESPONSES = b'{"model":"bench/fixed","input":"' + QUESTION.encode() + b'"%s}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    header: tuple[str, ...] = (
        "path",
        "p50 ms (1 conn)",
        "p99 ms (1 conn)",
        "req/s (32 conns)",
        "non-2xx",
    )
    rows = [header]
    with fixed_upstream() as upstream, tempfile.TemporaryDirectory() as tmp:
        direct = f"{upstream}/chat/completions"
        body = CHAT % b"fixed"
        rows.append(
            row(
                "direct upstream (chat)",
                latency(direct, body, {}, args.requests),
                throughput(direct, body, {}, 32, args.seconds),
            )
        )
        config = write_config(Path(tmp), upstream, args.workers)
        auth = {"Authorization": f"Bearer {create_key(config)}"}
        with gateway(config) as (base, _proc):
            cases = [
                ("gateway /v1/chat/completions", "/v1/chat/completions", CHAT % b"bench/fixed"),
                ("gateway /v1/responses store=false", "/v1/responses",
                 RESPONSES % b',"store":false'),
                ("gateway /v1/responses stored", "/v1/responses", RESPONSES % b""),
            ]  # fmt: skip
            for label, path, payload in cases:
                url = f"{base}{path}"
                lat = latency(url, payload, auth, args.requests)
                rows.append(row(label, lat, throughput(url, payload, auth, 32, args.seconds)))
    print(table(rows))


if __name__ == "__main__":
    main()
