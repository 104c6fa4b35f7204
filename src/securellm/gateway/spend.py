"""Budgets: USD per key per period, checked and reserved in one atomic UPDATE.

A request is admitted while ``spent + reserved`` is below the budget, and reserves its
estimated cost in the same statement; the real cost replaces the reservation when it
settles. Every gateway sharing the database (SQLite or PostgreSQL) sees the same row, so
concurrent requests cannot overspend by more than one request's worth.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from securellm.core.db import sqlite_file
from securellm.core.sqlite import connect_sqlite, write_transaction
from securellm.gateway.keys import BudgetPeriod
from securellm.gateway.tables import audit_events, budget_usage


def period_of(kind: BudgetPeriod, now: datetime) -> tuple[str, datetime | None]:
    """The period's name and when it ends (``None`` for ``total``)."""
    if kind == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%d"), start + timedelta(days=1)
    if kind == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (start + timedelta(days=32)).replace(day=1)
        return start.strftime("%Y-%m"), following
    return "total", None


@dataclass(frozen=True)
class Hold:
    """A reservation against one key's budget period."""

    key_id: str
    period: str
    amount: float


@dataclass(frozen=True)
class Refusal:
    spent: float
    budget: float
    period: str
    resets_at: datetime | None
    kind: BudgetPeriod = "total"


_TAKE = (
    "UPDATE budget_usage SET reserved_usd = reserved_usd + ?, requests = requests + 1 "
    "WHERE key_id = ? AND period = ? AND spent_usd + reserved_usd < ?"
)
_ENSURE = "INSERT OR IGNORE INTO budget_usage VALUES (?, ?, 0.0, 0.0, 0)"
_SPENT = "SELECT spent_usd FROM budget_usage WHERE key_id = ? AND period = ?"
_SETTLE = (
    "UPDATE budget_usage SET spent_usd = spent_usd + ?, "
    "reserved_usd = max(reserved_usd - ?, 0.0) WHERE key_id = ? AND period = ?"
)


class SqliteBudgetWriter:
    """Budget writes on SQLite: one connection in one thread, one hand-off per operation.

    Through the async driver a reserve costs several thread round trips (about 1 ms); here
    it is one. ``BEGIN IMMEDIATE`` takes SQLite's write lock first, so the check and the
    reservation stay atomic across processes sharing the file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="securellm-budget")
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect_sqlite(self.path)
        return self._conn

    def _reserve(self, key_id: str, period: str, budget: float, amount: float) -> float | None:
        """``None`` when reserved, else what the key has spent."""
        args = (amount, key_id, period, budget)
        spent: float | None = None
        with write_transaction(self._connection()) as conn:
            if conn.execute(_TAKE, args).rowcount == 0:
                conn.execute(_ENSURE, (key_id, period))
                if conn.execute(_TAKE, args).rowcount == 0:
                    row = conn.execute(_SPENT, (key_id, period)).fetchone()
                    spent = float(row[0]) if row else 0.0
        return spent

    def _settle(self, hold: Hold, cost: float) -> None:
        self._connection().execute(_SETTLE, (cost, hold.amount, hold.key_id, hold.period))

    async def reserve(self, key_id: str, period: str, budget: float, amount: float) -> float | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._reserve, key_id, period, budget, amount)

    async def settle(self, hold: Hold, cost: float) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._settle, hold, cost)

    def close(self) -> None:
        self._pool.submit(self._close).result()
        self._pool.shutdown()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class BudgetLedger:
    """Reserve, settle and report spend in the ``budget_usage`` table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        path = sqlite_file(engine)
        self._sqlite = SqliteBudgetWriter(path) if path else None

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()

    async def reserve(
        self,
        key_id: str,
        kind: BudgetPeriod,
        budget: float,
        amount: float,
        now: datetime | None = None,
    ) -> Hold | Refusal:
        period, resets = period_of(kind, now or datetime.now(UTC))
        if self._sqlite is not None:
            spent = await self._sqlite.reserve(key_id, period, budget, amount)
            if spent is None:
                return Hold(key_id, period, amount)
            return Refusal(spent, budget, period, resets, kind)
        async with self.engine.begin() as conn:
            if await self._take(conn, key_id, period, budget, amount):
                return Hold(key_id, period, amount)
            await self._ensure_row(conn, key_id, period)
            if await self._take(conn, key_id, period, budget, amount):
                return Hold(key_id, period, amount)
            spent, _ = await self._row(conn, key_id, period)
        return Refusal(spent, budget, period, resets, kind)

    async def settle(self, hold: Hold, cost: float) -> None:
        """Replace the reservation by the real cost."""
        if self._sqlite is not None:
            await self._sqlite.settle(hold, cost)
            return
        row = budget_usage.c
        async with self.engine.begin() as conn:
            await conn.execute(
                update(budget_usage)
                .where(and_(row.key_id == hold.key_id, row.period == hold.period))
                .values(
                    spent_usd=row.spent_usd + cost,
                    reserved_usd=func.max(row.reserved_usd - hold.amount, 0.0)
                    if conn.dialect.name == "sqlite"
                    else func.greatest(row.reserved_usd - hold.amount, 0.0),
                )
            )

    async def usage(self, key_id: str, kind: BudgetPeriod) -> dict[str, Any]:
        period, resets = period_of(kind, datetime.now(UTC))
        async with self.engine.connect() as conn:
            spent, reserved = await self._row(conn, key_id, period)
        return {
            "period": period,
            "spent_usd": spent,
            "reserved_usd": reserved,
            "resets_at": resets.isoformat() if resets else None,
        }

    async def spend_by(
        self, group: str, since: float, until: float, key_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Spend and tokens from the audit index, grouped by ``key``, ``model`` or ``provider``."""
        column = {
            "key": audit_events.c.key_id,
            "model": audit_events.c.model,
            "provider": audit_events.c.provider,
        }[group]
        c = audit_events.c
        query = (
            select(
                column.label("group"),
                func.count().label("requests"),
                func.coalesce(func.sum(c.total_tokens), 0).label("tokens"),
                func.coalesce(func.sum(c.cost_usd), 0.0).label("cost_usd"),
            )
            .where(and_(c.ts >= since, c.ts < until))
            .group_by(column)
            .order_by(func.sum(c.cost_usd).desc())
        )
        if key_id is not None:
            query = query.where(c.key_id == key_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [{str(k): v for k, v in r.items()} for r in rows]

    @staticmethod
    async def _take(
        conn: AsyncConnection, key_id: str, period: str, budget: float, amount: float
    ) -> bool:
        row = budget_usage.c
        result = await conn.execute(
            update(budget_usage)
            .where(
                and_(
                    row.key_id == key_id,
                    row.period == period,
                    row.spent_usd + row.reserved_usd < budget,
                )
            )
            .values(reserved_usd=row.reserved_usd + amount, requests=row.requests + 1)
        )
        return bool(result.rowcount)

    @staticmethod
    async def _ensure_row(conn: AsyncConnection, key_id: str, period: str) -> None:
        values = {
            "key_id": key_id,
            "period": period,
            "spent_usd": 0.0,
            "reserved_usd": 0.0,
            "requests": 0,
        }
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        await conn.execute(insert(budget_usage).values(**values).on_conflict_do_nothing())

    @staticmethod
    async def _row(conn: AsyncConnection, key_id: str, period: str) -> tuple[float, float]:
        row = budget_usage.c
        found = (
            await conn.execute(
                select(row.spent_usd, row.reserved_usd).where(
                    and_(row.key_id == key_id, row.period == period)
                )
            )
        ).first()
        return (float(found[0]), float(found[1])) if found else (0.0, 0.0)
