"""Cache and resilience costs, side by side in one run.

    .venv/bin/python benchmarks/gateway_resilience.py [--seconds 10] [--requests 1000] [--llama]

1. Latency at 1 connection: direct upstream, gateway with a cache miss, gateway with a
   cache hit (with ``--llama``, the upstream is the real Gemma 3 270M server, so a hit is
   compared with real generation).
2. Requests/s at 32 connections on 2 workers: resilience off (1 attempt, no breaker, no
   cache), resilience on (retries + breaker, no cache), and everything on with every
   request a cache miss.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchmarks.gateway_overhead import write_config
from benchmarks.harness import MASTER, fixed_upstream, gateway, latency, table, throughput

AUTH = {"Authorization": f"Bearer {MASTER}"}
BODY = b'{"model":"%s","messages":[{"role":"user","content":"What is the capital of France? UNIQUE"}],"max_tokens":8,"temperature":0}'  # noqa: E501
PROVIDER_OFF = "\n[providers.retry]\nattempts = 1\n\n[providers.breaker]\nenabled = false\n"


@contextmanager
def configured_gateway(
    upstream: str, model: str, *, cache: bool, resilience: bool, workers: int
) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), upstream, workers, cache=cache)
        text = config.read_text().replace('models = ["fixed"]', f'models = ["{model}"]')
        if not resilience:
            text += PROVIDER_OFF
        config.write_text(text)
        with gateway(config) as (url, _):
            yield url


@contextmanager
def upstream_for(use_llama: bool) -> Iterator[tuple[str, str]]:
    if not use_llama:
        with fixed_upstream() as url:
            yield url, "fixed"
        return
    from support.llama import llama_server

    with tempfile.TemporaryDirectory() as tmp, llama_server(Path(tmp) / "llama.log") as url:
        yield url, "gemma-3-270m"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--llama", action="store_true", help="real Gemma upstream for latency")
    args = parser.parse_args()
    count = 50 if args.llama else args.requests
    with upstream_for(args.llama) as (url, model):
        fixed = BODY.replace(b"UNIQUE", b"") % model.encode()
        via = BODY.replace(b"UNIQUE", b"") % f"bench/{model}".encode()
        direct = latency(f"{url}/chat/completions", fixed, {}, count)
        with configured_gateway(url, model, cache=False, resilience=True, workers=1) as gw:
            miss = latency(f"{gw}/v1/chat/completions", via, AUTH, count)
        with configured_gateway(url, model, cache=True, resilience=True, workers=1) as gw:
            hit = latency(f"{gw}/v1/chat/completions", via, AUTH, count)
    print(f"latency at 1 connection, upstream = {model}, {count} requests each")
    print(table([
        ("path", "p50 ms", "p99 ms"),
        ("direct upstream", f"{direct.p50_ms:.3f}", f"{direct.p99_ms:.3f}"),
        ("gateway, cache off", f"{miss.p50_ms:.3f}", f"{miss.p99_ms:.3f}"),
        ("gateway, cache hit", f"{hit.p50_ms:.3f}", f"{hit.p99_ms:.3f}"),
    ]))  # fmt: skip
    rows = [("gateway (2 workers)", "req/s (32 conns)", "non-2xx")]
    with fixed_upstream() as url:
        unique = BODY % b"bench/fixed"
        for label, cache, resilience in (
            ("resilience off, cache off", False, False),
            ("retries + breaker, cache off", False, True),
            ("retries + breaker + cache (all misses)", True, True),
        ):
            with configured_gateway(
                url, "fixed", cache=cache, resilience=resilience, workers=2
            ) as gw:
                result = throughput(
                    f"{gw}/v1/chat/completions", unique, AUTH, 32, args.seconds, unique=True
                )
            rows.append((label, f"{result.requests_per_s:.0f}", str(result.errors)))
    print("\nthroughput, fixed upstream, unique request bodies")
    print(table(rows))


if __name__ == "__main__":
    main()
