"""Where budget rows are written: a SQLite file through the stdlib driver (on the event
loop's thread when its write lock is free), or any database through SQLAlchemy.

Both take a reservation in one statement that checks ``spent + reserved + amount <=
budget``, fall back to a smaller reservation under the row's lock, and settle a batch of
folded settlements in one transaction. :class:`securellm.gateway.spend.BudgetLedger`
chooses one.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, TypeVar

from sqlalchemy import BigInteger, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from securellm.core.sqlite import connect_sqlite, is_locked, write_transaction
from securellm.gateway.tables import budget_usage

log = logging.getLogger(__name__)
T = TypeVar("T")
CHECKPOINT_WRITES = 10_000

Fit = Callable[[int], int | None]
"""Given what is left of a budget (nano-USD), how much a request may reserve, or ``None``."""


class Row(NamedTuple):
    spent: int
    reserved: int


class Settlement(NamedTuple):
    """What settles on one row: ``spent`` is added, ``released`` leaves the reservations."""

    key_id: str
    period: str
    spent: int
    released: int


_TAKE = (
    "UPDATE budget_usage SET reserved_nano_usd = reserved_nano_usd + ?, "
    "requests = requests + 1 WHERE key_id = ? AND period = ? "
    "AND spent_nano_usd + reserved_nano_usd + ? <= ?"
)
_ADD = (
    "UPDATE budget_usage SET reserved_nano_usd = reserved_nano_usd + ?, "
    "requests = requests + 1 WHERE key_id = ? AND period = ?"
)
_ENSURE = (
    "INSERT OR IGNORE INTO budget_usage "
    "(key_id, period, spent_nano_usd, reserved_nano_usd, requests) VALUES (?, ?, 0, 0, 0)"
)
_ROW = "SELECT spent_nano_usd, reserved_nano_usd FROM budget_usage WHERE key_id = ? AND period = ?"
_SETTLE = (
    "UPDATE budget_usage SET spent_nano_usd = spent_nano_usd + ?, "
    "reserved_nano_usd = max(reserved_nano_usd - ?, 0) WHERE key_id = ? AND period = ?"
)


class SqliteBudgetWriter:
    """Budget writes on a SQLite file, on the event loop's thread when the write lock is free.

    A reservation or a batch of settlements first runs on a connection that never waits
    (``busy_timeout`` 0): a few tens of microseconds, no thread hand-off. When another
    writer holds the lock it runs instead on a second connection in a worker thread, which
    waits for it. ``BEGIN IMMEDIATE`` takes the write lock first, so the check, the fallback
    to a smaller reservation and the reservation stay atomic across processes. The loop's
    connection never checkpoints the WAL itself: a worker thread does, every
    ``CHECKPOINT_WRITES``. ``on_loop=False`` sends every operation to the thread (the
    earlier path, kept for comparison).
    """

    def __init__(self, path: str, *, on_loop: bool = True) -> None:
        self.path = path
        self.on_loop = on_loop
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="securellm-budget")
        self._loop_conn: sqlite3.Connection | None = None
        self._thread_conn: sqlite3.Connection | None = None
        self._writes = 0

    def _on_loop(self) -> sqlite3.Connection:
        if self._loop_conn is None:
            self._loop_conn = connect_sqlite(self.path, timeout_s=0)
            self._loop_conn.execute("PRAGMA wal_autocheckpoint=0")
        return self._loop_conn

    def _in_thread(self) -> sqlite3.Connection:
        if self._thread_conn is None:
            self._thread_conn = connect_sqlite(self.path)
        return self._thread_conn

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        if self.on_loop:
            try:
                result = work(self._on_loop())
            except sqlite3.OperationalError as exc:
                if not is_locked(exc):
                    raise
            else:
                self._writes += 1
                if self._writes % CHECKPOINT_WRITES == 0:
                    loop.run_in_executor(self._pool, self._checkpoint)
                return result
        return await loop.run_in_executor(self._pool, lambda: work(self._in_thread()))

    def _checkpoint(self) -> None:
        try:
            self._in_thread().execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            log.warning("budget WAL checkpoint failed; the next one retries", exc_info=True)

    async def reserve(
        self, key_id: str, period: str, budget: int, worst: int, fit: Fit | None
    ) -> int | Row:
        """The amount reserved, or the row that had no room for it."""
        return await self._run(
            lambda conn: _sqlite_reserve(conn, key_id, period, budget, worst, fit)
        )

    async def settle(self, batch: list[Settlement]) -> None:
        rows = [(s.spent, s.released, s.key_id, s.period) for s in batch]

        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.executemany(_SETTLE, rows)

        await self._run(work)

    def close(self) -> None:
        self._pool.submit(self._close_thread).result()
        self._pool.shutdown()
        if self._loop_conn is not None:
            self._loop_conn.close()
            self._loop_conn = None

    def _close_thread(self) -> None:
        if self._thread_conn is not None:
            self._thread_conn.close()
            self._thread_conn = None


def _sqlite_reserve(
    conn: sqlite3.Connection, key_id: str, period: str, budget: int, worst: int, fit: Fit | None
) -> int | Row:
    take = (worst, key_id, period, worst, budget)
    with write_transaction(conn):
        if conn.execute(_TAKE, take).rowcount:
            return worst
        conn.execute(_ENSURE, (key_id, period))
        if conn.execute(_TAKE, take).rowcount:
            return worst
        found = conn.execute(_ROW, (key_id, period)).fetchone()
        row = Row(int(found[0]), int(found[1]))
        amount = fit(budget - row.spent - row.reserved) if fit else None
        if amount is None:
            return row
        conn.execute(_ADD, (amount, key_id, period))
        return amount


class SqlBudgetWriter:
    """The same operations through SQLAlchemy (PostgreSQL, or SQLite in memory).

    On PostgreSQL the conditional ``UPDATE`` re-checks its condition on the newest row
    version, and the fallback path holds the row with ``SELECT … FOR UPDATE``.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        c = budget_usage.c
        where = and_(c.key_id == bindparam("b_key"), c.period == bindparam("b_period"))
        amount = bindparam("b_amount", type_=BigInteger)
        add = {"reserved_nano_usd": c.reserved_nano_usd + amount, "requests": c.requests + 1}
        fits = c.spent_nano_usd + c.reserved_nano_usd + amount <= bindparam("b_budget")
        self._take = update(budget_usage).where(where, fits).values(**add)
        self._add = update(budget_usage).where(where).values(**add)
        released = c.reserved_nano_usd - bindparam("b_released", type_=BigInteger)
        floor = func.max if engine.dialect.name == "sqlite" else func.greatest
        self._settle = (
            update(budget_usage)
            .where(where)
            .values(
                spent_nano_usd=c.spent_nano_usd + bindparam("b_spent", type_=BigInteger),
                reserved_nano_usd=floor(released, 0),
            )
        )
        self._row = select(c.spent_nano_usd, c.reserved_nano_usd).where(
            c.key_id == bindparam("b_key"), c.period == bindparam("b_period")
        )

    async def reserve(
        self, key_id: str, period: str, budget: int, worst: int, fit: Fit | None
    ) -> int | Row:
        args = {"b_key": key_id, "b_period": period, "b_amount": worst, "b_budget": budget}
        async with self.engine.begin() as conn:
            if (await conn.execute(self._take, args)).rowcount:
                return worst
            await _ensure_row(conn, key_id, period)
            if (await conn.execute(self._take, args)).rowcount:
                return worst
            query = self._row if conn.dialect.name == "sqlite" else self._row.with_for_update()
            found = (await conn.execute(query, args)).one()
            row = Row(int(found[0]), int(found[1]))
            amount = fit(budget - row.spent - row.reserved) if fit else None
            if amount is None:
                return row
            await conn.execute(self._add, {**args, "b_amount": amount})
            return amount

    async def settle(self, batch: list[Settlement]) -> None:
        rows = [
            {"b_key": s.key_id, "b_period": s.period, "b_spent": s.spent, "b_released": s.released}
            for s in batch
        ]
        async with self.engine.begin() as conn:
            await conn.execute(self._settle, rows)

    def close(self) -> None:
        return None


async def _ensure_row(conn: AsyncConnection, key_id: str, period: str) -> None:
    values = {
        "key_id": key_id,
        "period": period,
        "spent_nano_usd": 0,
        "reserved_nano_usd": 0,
        "requests": 0,
    }
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(insert(budget_usage).values(**values).on_conflict_do_nothing())
