"""The audit index: one row per record in ``audit_events``, for fast queries.

The JSONL files are the source of truth; the index is what ``audit query`` and
``/admin/audit`` search. Rows are inserted a batch at a time by the audit writer.

On a SQLite file the batch goes through the standard library's ``executemany`` on the
event loop's own thread: about 4 µs of CPU per row, a few milliseconds per batch, and no
driver thread fighting the loop for the GIL at every row. It never waits for SQLite's
write lock there: while another writer holds it, the batch waits in a worker thread. On
PostgreSQL asyncpg's ``executemany`` sends the batch in one round trip.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.core.db import sqlite_file
from securellm.core.sqlite import connect_sqlite, is_locked, write_transaction
from securellm.gateway.tables import audit_events

COLUMNS = (
    "ts",
    "request_id",
    "event_type",
    "key_id",
    "key_name",
    "client_ip",
    "endpoint",
    "provider",
    "model",
    "status",
    "outcome",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_usd",
    "duration_ms",
    "error",
    "file",
    "line",
)
# Text columns are cut to their width, so one odd value cannot fail a whole batch.
_WIDTHS = tuple(getattr(audit_events.c[name].type, "length", None) or 0 for name in COLUMNS)
_SOURCES = tuple(name for name in COLUMNS if name not in ("ts", "file", "line"))
# Built from the constant column list above (no user input), with each driver's placeholders.
_NAMES = ", ".join(COLUMNS)
SQLITE_INSERT = f"INSERT INTO audit_events ({_NAMES}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
POSTGRES_INSERT = (
    f"INSERT INTO audit_events ({_NAMES}) "  # noqa: S608
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 1))})"
)
LOCK_WAIT_MS = 30_000  # how long the worker thread waits for another writer
# The loop's connection never checkpoints the WAL itself (that copies pages and syncs the
# disk); a worker thread does it after this many rows.
CHECKPOINT_ROWS = 20_000
Row = tuple[Any, ...]


def row_of(record: dict[str, Any], file: str, line: int | None = None) -> Row:
    """The index row of a sealed record written to ``file`` at ``line`` (default: its seq)."""
    ts = datetime.fromisoformat(record["timestamp"]).timestamp()
    values: list[Any] = [ts]
    for name in _SOURCES:
        values.append(record.get(name))
    values += [file, record["seq"] if line is None else line]
    for i, width in enumerate(_WIDTHS):
        value = values[i]
        if width and isinstance(value, str) and len(value) > width:
            values[i] = value[:width]
    return tuple(values)


class AuditIndex(Protocol):
    async def insert(self, rows: Sequence[Row]) -> None: ...

    def close(self) -> None: ...


class SqliteIndex:
    """Inserts into a SQLite file through one connection of its own."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._since_checkpoint = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect_sqlite(self.path)
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
        return self._conn

    def _insert(self, rows: Sequence[Row], wait_ms: int) -> None:
        conn = self._connection()
        conn.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
        with write_transaction(conn):
            conn.executemany(SQLITE_INSERT, rows)

    async def insert(self, rows: Sequence[Row]) -> None:
        try:
            self._insert(rows, 0)
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                raise
            await asyncio.to_thread(self._insert, rows, LOCK_WAIT_MS)
        self._since_checkpoint += len(rows)
        if self._since_checkpoint >= CHECKPOINT_ROWS:
            self._since_checkpoint = 0
            await asyncio.to_thread(self._checkpoint)

    def _checkpoint(self) -> None:
        self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class EngineIndex:
    """Inserts through the engine's driver (asyncpg), or SQLAlchemy for anything else."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def insert(self, rows: Sequence[Row]) -> None:
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                await driver.executemany(POSTGRES_INSERT, rows)
            else:
                dicts = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
                await conn.execute(audit_events.insert(), dicts)

    def close(self) -> None:
        return None


def index_for(engine: AsyncEngine) -> AuditIndex:
    path = sqlite_file(engine)
    return SqliteIndex(path) if path else EngineIndex(engine)
