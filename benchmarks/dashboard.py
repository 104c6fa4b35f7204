"""The dashboard's cost: the overview page over 100,000 audit records, and the gateway's
throughput with an overview tab open (polling its live block) vs closed, in one run.

    .venv/bin/python benchmarks/dashboard.py [--records 100000] [--runs 30]
        [--connections 32] [--seconds 10] [--poll 1.0]

(a) Fills the gateway's audit index with ``--records`` records over 30 days through the
index's own insert path, starts ``securellm gateway``, signs in, and times GET /ui/ (day and
month windows) and the live fragment beside GET /admin/audit?limit=100 as the baseline.
(b) Chat requests from ``--connections`` concurrent clients to a fixed-response upstream,
first with no dashboard, then with a client polling /ui/api/overview every ``--poll`` s
(harsher than the browser's 5 s). Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import MASTER, fixed_upstream, gateway, table, wait_http
from securellm.core.db import create_engine
from securellm.gateway.audit.index import COLUMNS, index_for
from securellm.gateway.migrations import upgrade

DAY = 86_400
BODY = b'{"model": "bench/fixed", "messages": [{"role": "user", "content": "hi"}]}'
AUTH = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json"}


def write_config(folder: Path, upstream: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "bench.toml"
    config.write_text(
        f'data_dir = "{folder}/data"\nlog_dir = "{folder}/log"\n\n'
        f'[gateway]\nmaster_key = "{MASTER}"\nlimits_enabled = false\n\n'
        f"[cache]\nenabled = false\n\n"
        f'[[providers]]\nname = "bench"\nbase_url = "{upstream}"\nmodels = ["fixed"]\n'
    )
    return config


def _row(i: int, now: float, rng: random.Random) -> tuple[object, ...]:
    key, model = rng.randrange(50), rng.randrange(10)
    status = 502 if rng.random() < 0.03 else 200
    values = {
        "ts": now - rng.random() * 30 * DAY, "request_id": f"req_{i:032x}",
        "event_type": "request", "key_id": f"key_{key:016x}", "key_name": f"key-{key}",
        "client_ip": "127.0.0.1", "endpoint": "chat", "provider": f"p{model % 3}",
        "model": f"p{model % 3}/model-{model}", "status": status,
        "outcome": "ok" if status == 200 else "failed", "prompt_tokens": 100,
        "completion_tokens": 50, "total_tokens": 150, "cost_usd": 0.0003,
        "duration_ms": rng.lognormvariate(5, 0.5), "error": None, "file": "bench.jsonl",
        "line": i,
    }  # fmt: skip
    return tuple(values[name] for name in COLUMNS)


async def fill(database_url: str, count: int) -> float:
    """``count`` records through the audit index's insert path; returns the seconds taken."""
    engine = create_engine(database_url)
    await upgrade(engine)
    index, rng, now = index_for(engine), random.Random(15), time.time()
    started = time.perf_counter()
    for first in range(0, count, 5000):
        await index.insert([_row(i, now, rng) for i in range(first, min(count, first + 5000))])
    index.close()
    await engine.dispose()
    return time.perf_counter() - started


def timed(client: httpx.Client, path: str, runs: int, headers: dict[str, str]) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        reply = client.get(path, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        if reply.status_code != 200:
            raise RuntimeError(f"{path} answered {reply.status_code}")
    return sorted(samples)


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    reply = client.post("/ui/login", data={"key": MASTER, "next": "/ui/"})
    if reply.status_code != 303:
        raise RuntimeError(f"sign-in answered {reply.status_code}")
    return client


def pages(base: str, runs: int) -> list[list[str]]:
    rows = [["request", "p50 ms", "p95 ms"]]
    bearer = {"Authorization": f"Bearer {MASTER}"}
    client = signed_in(base)
    try:
        for label, path, headers in (
            ("GET /admin/audit?limit=100 (baseline)", "/admin/audit?limit=100", bearer),
            ("GET /ui/ (day)", "/ui/", {}),
            ("GET /ui/?window=month", "/ui/?window=month", {}),
            ("GET /ui/api/overview?window=hour", "/ui/api/overview?window=hour", {}),
        ):
            s = timed(client, path, runs, headers)
            p95 = s[max(0, int(len(s) * 0.95) - 1)]
            rows.append([label, f"{statistics.median(s):.1f}", f"{p95:.1f}"])
    finally:
        client.close()
    return rows


async def _load(url: str, connections: int, seconds: float) -> tuple[float, float, int]:
    samples: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.post(url, data=BODY, headers=AUTH) as response:
                await response.read()
                errors += response.status != 200
            samples.append((time.perf_counter() - started) * 1000)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as s:
        began = time.perf_counter()
        await asyncio.gather(*(one(s) for _ in range(connections)))
        elapsed = time.perf_counter() - began
    samples.sort()
    return len(samples) / elapsed, samples[int(len(samples) * 0.99) - 1], errors


async def _tab(base: str, every: float, stop: asyncio.Event) -> int:
    """A dashboard tab: polls the live block until ``stop``; returns how many it fetched."""
    client = await asyncio.to_thread(signed_in, base)
    fetched = 0
    try:
        while not stop.is_set():
            reply = await asyncio.to_thread(client.get, "/ui/api/overview?window=day")
            fetched += reply.status_code == 200
            await asyncio.sleep(every)
    finally:
        client.close()
    return fetched


async def load_with(base: str, args: argparse.Namespace, tab: bool) -> list[str]:
    stop = asyncio.Event()
    poller = asyncio.create_task(_tab(base, args.poll, stop)) if tab else None
    rps, p99, errors = await _load(f"{base}/v1/chat/completions", args.connections, args.seconds)
    stop.set()
    polls = await poller if poller else 0
    label = f"overview tab open (every {args.poll:g} s)" if tab else "no dashboard"
    return [label, f"{rps:.0f}", f"{p99:.1f}", str(errors), str(polls)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args()
    prefix = "securellm-bench-dashboard-"
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, fixed_upstream() as upstream:
        config = write_config(Path(tmp), upstream)
        database = f"sqlite+aiosqlite:///{Path(tmp) / 'data' / 'gateway.db'}"
        took = asyncio.run(fill(database, args.records))
        with gateway(config) as (base, _proc):
            wait_http(f"{base}/ready")
            print(f"(a) {args.records} audit records indexed in {took:.1f} s", flush=True)
            print(table(pages(base, args.runs)), flush=True)
            print(f"\n(b) chat, {args.connections} clients, {args.seconds:g} s each")
            rows = [["dashboard", "req/s", "p99 ms", "errors", "polls"]]
            for tab in (False, True):
                rows.append(asyncio.run(load_with(base, args, tab)))
            print(table(rows), flush=True)


if __name__ == "__main__":
    main()
