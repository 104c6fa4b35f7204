"""Searching the audit index in the database (fast: indexed by key, model, provider and time)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.gateway.tables import audit_events

COLUMNS = [c.name for c in audit_events.columns if c.name != "id"]


@dataclass(frozen=True)
class AuditFilter:
    """Every field optional; times are Unix seconds, ``until`` exclusive.

    ``key`` is a key id (indexed); ``key_name`` matches the name recorded at the time (for
    keys no longer in the database).
    """

    since: float | None = None
    until: float | None = None
    key: str | None = None
    key_name: str | None = None
    model: str | None = None
    provider: str | None = None
    status: int | None = None
    outcome: str | None = None
    request_id: str | None = None
    limit: int | None = 100
    before: int | None = None  # a page cursor: only rows with a smaller index id

    def statement(self, *, with_id: bool = False) -> Select[Any]:
        c = audit_events.c
        conditions: list[Any] = []
        if self.since is not None:
            conditions.append(c.ts >= self.since)
        if self.until is not None:
            conditions.append(c.ts < self.until)
        if self.key is not None:
            conditions.append(c.key_id == self.key)
        if self.before is not None:
            conditions.append(c.id < self.before)
        for column, value in (
            (c.key_name, self.key_name),
            (c.model, self.model),
            (c.provider, self.provider),
            (c.status, self.status),
            (c.outcome, self.outcome),
            (c.request_id, self.request_id),
        ):
            if value is not None:
                conditions.append(column == value)
        names = ["id", *COLUMNS] if with_id else COLUMNS
        # Pages go by index id (insertion order), so the "before" cursor never skips a row.
        order = c.id.desc() if with_id else c.ts.desc()
        query = select(*(audit_events.c[name] for name in names)).order_by(order)
        if conditions:
            query = query.where(and_(*conditions))
        if self.limit is not None:
            query = query.limit(self.limit)
        return query


async def query(engine: AsyncEngine, flt: AuditFilter) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(flt.statement())).mappings().all()
    return [{str(k): v for k, v in r.items()} for r in rows]


async def page(engine: AsyncEngine, flt: AuditFilter) -> list[dict[str, Any]]:
    """Like :func:`query`, with each row's index ``id`` (the cursor for the next page)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(flt.statement(with_id=True))).mappings().all()
    return [{str(k): v for k, v in r.items()} for r in rows]


async def one(engine: AsyncEngine, row_id: int) -> dict[str, Any] | None:
    """The index row with this ``id``, or ``None``."""
    c = audit_events.c
    statement = select(*(c[name] for name in ["id", *COLUMNS])).where(c.id == row_id)
    async with engine.connect() as conn:
        row = (await conn.execute(statement)).mappings().first()
    return None if row is None else {str(k): v for k, v in row.items()}


async def stream_rows(engine: AsyncEngine, flt: AuditFilter) -> AsyncIterator[dict[str, Any]]:
    """All matching rows, fetched in pages (for export of large histories)."""
    async with engine.connect() as conn:
        result = await conn.stream(flt.statement().execution_options(yield_per=1000))
        async for row in result.mappings():
            yield {str(k): v for k, v in row.items()}


def jsonl(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row) + b"\n"


def csv_header() -> str:
    return ",".join(COLUMNS) + "\r\n"


def csv_line(row: dict[str, Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([row.get(name) for name in COLUMNS])
    return buffer.getvalue()


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(value: str, now: float | None = None) -> float:
    """Unix seconds from ``1732200000``, an ISO date/time, or an age like ``15m``/``24h``/``7d``."""
    text = value.strip()
    current = time.time() if now is None else now
    if text[:-1].isdigit() and text[-1:] in _UNITS:
        return current - int(text[:-1]) * _UNITS[text[-1]]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is not a time: use an ISO date, Unix seconds, or an age like 24h"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
