"""The audit index rows: timestamps, widths, and waiting for SQLite's write lock."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from securellm.gateway.audit.index import COLUMNS, SqliteIndex, row_of
from securellm.gateway.audit.record import build, utc_timestamp
from securellm.gateway.context import RequestContext
from securellm.gateway.tables import metadata


def schema(tmp_path: Path) -> str:
    path = str(tmp_path / "index.db")
    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    engine.dispose()
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").close()  # as the gateway's engine
    return path


def record(seq: int, **fields: object) -> dict[str, Any]:
    """A record as the gateway builds it, sealed as number ``seq`` of its file."""
    built = build(RequestContext(endpoint="chat.completions", request_id=f"req_{seq}"))
    return {**built, "timestamp": "2026-11-22T01:02:03.456789Z", "seq": seq, **fields}


def test_timestamps_are_utc_iso_with_microseconds() -> None:
    wall = datetime(2026, 11, 22, 1, 2, 3, 456789, tzinfo=UTC).timestamp()
    assert utc_timestamp(wall) == "2026-11-22T01:02:03.456789Z"


def test_timestamps_never_round_up_into_the_next_second() -> None:
    assert utc_timestamp(1_700_000_000.9999996) == "2023-11-14T22:13:20.999999Z"


def test_row_has_every_column_with_the_record_time_file_and_line() -> None:
    row = row_of(record(7, model="local/gemma"), "audit-2026-11-22.s0.jsonl")
    values = dict(zip(COLUMNS, row, strict=True))
    assert values["ts"] == datetime(2026, 11, 22, 1, 2, 3, 456789, tzinfo=UTC).timestamp()
    assert (values["request_id"], values["model"]) == ("req_7", "local/gemma")
    assert (values["file"], values["line"]) == ("audit-2026-11-22.s0.jsonl", 7)


def test_row_cuts_text_longer_than_its_column() -> None:
    row = row_of(record(1, model="m" * 5000), "f.jsonl")
    model = dict(zip(COLUMNS, row, strict=True))["model"]
    assert isinstance(model, str) and 0 < len(model) < 5000


async def test_insert_waits_for_another_writer_instead_of_failing(tmp_path: Path) -> None:
    path = schema(tmp_path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    index = SqliteIndex(path)
    pending = asyncio.ensure_future(index.insert([row_of(record(1), "f.jsonl")]))
    await asyncio.sleep(0.3)
    assert not pending.done()
    other.execute("COMMIT")
    await asyncio.wait_for(pending, 10)
    index.close()
    count = other.execute("SELECT count(*) FROM audit_events").fetchone()[0]
    other.close()
    assert count == 1
