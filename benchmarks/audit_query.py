"""``audit query`` over 1,000,000 indexed audit records: indexed vs full scan, one run.

    .venv/bin/python benchmarks/audit_query.py [--records 1000000] [--repeat 20]

Generates the records straight into the gateway's SQLite schema (migrations included),
then times the queries ``securellm audit query`` and ``/admin/audit`` run, through the
same code (``securellm.gateway.audit.query``), against the same query with SQLite told
not to use an index (``NOT INDEXED``). Goal: a key's last day in < 100 ms.
Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from securellm.core.db import create_engine
from securellm.gateway.audit.query import AuditFilter, query
from securellm.gateway.migrations import upgrade
from securellm.gateway.spend import BudgetLedger

DAY = 86_400
KEYS = 100
MODELS = [f"provider{p}/model-{m}" for p in range(4) for m in range(5)]
OUTCOMES = [("ok", 200)] * 18 + [("rate_limited", 429), ("failed", 502)]


def generate(path: Path, count: int, now: float) -> None:
    """``count`` records over 90 days, 100 keys, 20 models (plain sqlite3: fast to load)."""
    rng = random.Random(7)
    conn = sqlite3.connect(path)
    sql = (
        "INSERT INTO audit_events (ts, request_id, event_type, key_id, key_name, client_ip, "
        "endpoint, provider, model, status, outcome, prompt_tokens, completion_tokens, "
        "total_tokens, cost_usd, duration_ms, error, file, line) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    batch = []
    for i in range(count):
        ts = now - rng.random() * 90 * DAY
        key = rng.randrange(KEYS)
        model = rng.choice(MODELS)
        outcome, status = rng.choice(OUTCOMES)
        prompt, completion = rng.randrange(10, 2000), rng.randrange(0, 800)
        batch.append((
            ts, f"req_{i:032x}", f"request.{outcome}", f"key_{key:016x}", f"key-{key}",
            "127.0.0.1", "chat", model.split("/")[0], model, status, outcome, prompt,
            completion, prompt + completion, (prompt + completion) * 1e-6, 120.0, None,
            "audit-2026-01-01.s0.jsonl", i + 1,
        ))  # fmt: skip
        if len(batch) == 50_000:
            conn.executemany(sql, batch)
            batch.clear()
    conn.executemany(sql, batch)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


async def timed(action: Callable[[], Awaitable[object]], repeat: int) -> tuple[float, object]:
    await action()  # warm the page cache and the connection
    samples = []
    result: object = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


async def run(path: Path, now: float, repeat: int) -> list[tuple[str, str, str, str]]:
    engine = create_engine(f"sqlite:///{path}")
    key = f"key_{42:016x}"
    last_day = AuditFilter(since=now - DAY, key=key, limit=None)
    last_hour_model = AuditFilter(since=now - 3600, model=MODELS[3], limit=None)
    month_model = AuditFilter(since=now - 30 * DAY, model=MODELS[3], limit=None)
    rows_sql = (
        "SELECT ts, request_id, key_id, model, status, total_tokens, cost_usd "
        "FROM audit_events NOT INDEXED WHERE {} AND ts >= :t ORDER BY ts DESC"
    )
    spend_sql = (
        "SELECT key_id, count(*), sum(total_tokens), sum(cost_usd) FROM audit_events "
        "NOT INDEXED WHERE ts >= :t GROUP BY key_id"
    )

    async def scan(sql: str, params: dict[str, object]) -> list[object]:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())

    cases: list[tuple[str, Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]] = [
        (
            "one key, last day",
            lambda: query(engine, last_day),
            lambda: scan(rows_sql.format("key_id = :k"), {"k": key, "t": now - DAY}),
        ),
        (
            "one model, last hour",
            lambda: query(engine, last_hour_model),
            lambda: scan(rows_sql.format("model = :m"), {"m": MODELS[3], "t": now - 3600}),
        ),
        (
            "one model, last 30 days",
            lambda: query(engine, month_model),
            lambda: scan(rows_sql.format("model = :m"), {"m": MODELS[3], "t": now - 30 * DAY}),
        ),
        (
            "spend by key, last day",
            lambda: BudgetLedger(engine).spend_by("key", now - DAY, now + 1),
            lambda: scan(spend_sql, {"t": now - DAY}),
        ),
    ]
    rows = []
    for label, indexed, baseline in cases:
        fast, found = await timed(indexed, repeat)
        slow, _ = await timed(baseline, max(3, repeat // 5))
        count = len(found) if isinstance(found, list) else 0
        rows.append((label, str(count), f"{fast:.2f}", f"{slow:.2f}"))
    await engine.dispose()
    return rows


def cli_wall_ms(folder: Path, key: str) -> float:
    """The whole ``securellm audit query`` process (interpreter start-up included)."""
    config = folder / "bench.toml"
    config.write_text(f'data_dir = "{folder}"\n')
    argv = [sys.executable, "-m", "securellm", "audit", "query", "--config", str(config)]
    argv += ["--key", key, "--since", "24h", "--limit", "1000", "--json"]
    subprocess.run(argv, check=True, capture_output=True)  # warm-up
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gateway.db"
        engine = create_engine(f"sqlite:///{path}")
        asyncio.run(upgrade(engine))
        asyncio.run(engine.dispose())
        started = time.perf_counter()
        generate(path, args.records, now)
        loaded = time.perf_counter() - started
        rows = asyncio.run(run(path, now, args.repeat))
        cli_ms = cli_wall_ms(Path(tmp), f"key_{42:016x}")
    print(f"{args.records:,} audit records generated and indexed in {loaded:.1f} s (SQLite)\n")
    rows.append(("CLI: audit query --key K --since 24h", "-", f"{cli_ms:.0f} (wall)", "-"))
    header = ("query", "rows", "indexed ms (median)", "full scan ms (NOT INDEXED)")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
