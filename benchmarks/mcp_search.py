"""``knowledge_search`` latency on 100,000 entries: FTS5 + bm25 vs a LIKE scan baseline.

Measured twice: straight on the store, and as a full ``tools/call`` through the SDK's
in-memory client (validation, worker thread, JSON). Run:
``.venv/bin/python benchmarks/mcp_search.py [--entries 100000] [--queries 200]``.
Goal: p50 under 10 ms.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio

from mcp import Client
from securellm.core.config import settings_from_mapping
from securellm.mcp.knowledge.search import SearchQuery
from securellm.mcp.knowledge.store import KnowledgeStore, now_iso
from securellm.mcp.server import create_server

TYPES = ["note", "decision", "code", "error", "reference", "todo"]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)]


def populate(path: Path, entries: int, rng: random.Random) -> list[str]:
    """Bulk insert (one transaction); the FTS triggers index every row as the store would."""
    words = vocabulary(20_000, rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf-like word frequencies
    store = KnowledgeStore(path)
    store.open()
    store.close()
    stamp = now_iso()
    conn = sqlite3.connect(path)
    rows = []
    for n in range(entries):
        body = " ".join(rng.choices(words, weights, k=rng.randint(20, 80)))
        title = " ".join(rng.choices(words, weights, k=4))
        tags = f'["{rng.choice(words[:50])}"]'
        rows.append((rng.choice(TYPES), title, body, tags, "{}", stamp, stamp))
        if len(rows) == 10_000 or n == entries - 1:
            conn.executemany(
                "INSERT INTO entries (type, title, content, tags, metadata, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            rows.clear()
    conn.commit()
    conn.close()
    # Queries: a mix of common, mid-frequency and rare words, and two-word queries.
    return (
        [rng.choice(words[:20]) for _ in range(20)]
        + [rng.choice(words[100:2000]) for _ in range(60)]
        + [rng.choice(words[2000:]) for _ in range(60)]
        + [f"{rng.choice(words[:500])} {rng.choice(words[:500])}" for _ in range(60)]
    )


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"{statistics.median(ms):8.2f} {p95:8.2f} {ms[-1]:8.2f}"


def measure(fn: Callable[[str], object], queries: list[str]) -> list[float]:
    samples = []
    for query in queries:
        started = time.perf_counter()
        fn(query)
        samples.append(time.perf_counter() - started)
    return samples


async def measure_tool(path: Path, queries: list[str]) -> list[float]:
    tmp = path.parent
    settings = settings_from_mapping(
        {
            "data_dir": tmp,
            "state_dir": tmp,
            "log_dir": tmp,
            "mcp": {"knowledge_db_path": str(path)},
        },
        env={},
    )
    samples = []
    async with Client(create_server(settings)) as client:
        await client.call_tool("knowledge_search", {"query": "warmup"})
        for query in queries:
            started = time.perf_counter()
            result = await client.call_tool("knowledge_search", {"query": query, "limit": 10})
            samples.append(time.perf_counter() - started)
            assert not result.is_error
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(7)
    path = Path(tempfile.mkdtemp()) / "knowledge.db"
    started = time.perf_counter()
    queries = populate(path, args.entries, rng)
    print(f"populated {args.entries} entries in {time.perf_counter() - started:.1f}s")

    store = KnowledgeStore(path)
    store.open()
    fts = measure(lambda q: store.search(SearchQuery(text=q, limit=10)), queries)
    conn = sqlite3.connect(path)

    def like_scan(query: str) -> object:
        clauses = " AND ".join("content LIKE ?" for _ in query.split())
        sql = f"SELECT id FROM entries WHERE {clauses} ORDER BY created_at DESC LIMIT 10"  # noqa: S608
        return conn.execute(sql, [f"%{w}%" for w in query.split()]).fetchall()

    like = measure(like_scan, queries[::4])
    tool = anyio.run(measure_tool, path, queries)
    print(f"{len(queries)} queries (common, mid, rare words and pairs), latency in ms")
    print(f"{'method':46} {'p50':>8} {'p95':>8} {'max':>8}")
    print(f"{'baseline: LIKE scan (1/4 of the queries)':46} {percentiles(like)}")
    print(f"{'store.search: FTS5 MATCH + bm25':46} {percentiles(fts)}")
    print(f"{'knowledge_search tool via in-memory client':46} {percentiles(tool)}")
    store.close()


if __name__ == "__main__":
    main()
