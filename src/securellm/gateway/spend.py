"""Budgets: nano-USD per key per period, reserved and checked in one atomic statement.

A request reserves the most it can cost in the same ``UPDATE`` that checks
``spent + reserved + this reservation <= budget``; its real cost replaces the reservation
when it settles. Amounts are integers (10^-9 USD), so sums and comparisons are exact on
SQLite and PostgreSQL alike, and every gateway sharing the database sees the same row: a
key never spends more than its budget, however many requests, processes or gateways race.
Settlements are folded per key and period and written one transaction per flush.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import BigInteger, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from securellm.core.db import sqlite_file
from securellm.core.sqlite import connect_sqlite, is_locked, write_transaction
from securellm.gateway.keys import BudgetPeriod
from securellm.gateway.tables import audit_events, budget_usage

log = logging.getLogger(__name__)
T = TypeVar("T")
NANO = 1_000_000_000  # nano-USD per USD
RETRY_S = 0.5
CHECKPOINT_WRITES = 10_000

Fit = Callable[[int], int | None]
"""Given what is left of a budget (nano-USD), how much a request may reserve, or ``None``."""


def to_nano(usd: float) -> int:
    return round(usd * NANO)


def format_usd(nano: int) -> str:
    """``$0.004875``, ``$0.005``, ``$5.00``: exact, never rounded to the cent."""
    sign = "-" if nano < 0 else ""
    whole, fraction = divmod(abs(nano), NANO)
    digits = f"{fraction:09d}".rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{digits}"


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
    """A reservation of ``amount`` nano-USD against one key's budget period."""

    key_id: str
    period: str
    amount: int


@dataclass(frozen=True)
class Refusal:
    """Why a reservation did not fit (nano-USD): what is spent, what requests in flight
    hold, and the budget."""

    spent: int
    reserved: int
    budget: int
    period: str
    resets_at: datetime | None
    kind: BudgetPeriod = "total"


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


class SettlementQueue:
    """Settlements folded per key and period, one transaction per flush: while a flush is
    in flight the next batch gathers (as the limiter batches its Redis settlements)."""

    def __init__(self, write: Callable[[list[Settlement]], Awaitable[None]]) -> None:
        self._write = write
        self._pending: dict[tuple[str, str], list[int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def add(self, hold: Hold, spent: int) -> None:
        slot = self._pending.setdefault((hold.key_id, hold.period), [0, 0])
        slot[0] += spent
        slot[1] += hold.amount
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                rows = [Settlement(k, p, s, r) for (k, p), (s, r) in batch.items()]
                try:
                    await self._write(rows)
                except Exception:
                    if self._closing:
                        log.exception("spend of %d budget row(s) not recorded", len(rows))
                        continue
                    log.exception("could not record spend; retrying")
                    for row in rows:
                        slot = self._pending.setdefault((row.key_id, row.period), [0, 0])
                        slot[0] += row.spent
                        slot[1] += row.released
                    await asyncio.sleep(RETRY_S)
        finally:
            self._task = None

    async def drain(self) -> None:
        """Write everything pending (one last try each on errors)."""
        self._closing = True
        while self._task is not None:
            await asyncio.wait([self._task])
        self._closing = False


class BudgetLedger:
    """Reserve, settle and report spend in the ``budget_usage`` table.

    ``fast`` folds settlements into one transaction per flush and writes a SQLite file from
    the event loop's thread when it can; without it every reservation and settlement is
    its own hand-off to the budget thread and its own transaction (the earlier path, kept
    for comparison in the benchmark).
    """

    def __init__(self, engine: AsyncEngine, *, fast: bool = True) -> None:
        self.engine = engine
        path = sqlite_file(engine)
        self._writer: SqliteBudgetWriter | SqlBudgetWriter = (
            SqliteBudgetWriter(path, on_loop=fast) if path else SqlBudgetWriter(engine)
        )
        self._queue = SettlementQueue(self._writer.settle) if fast else None
        self._tasks: set[asyncio.Task[None]] = set()

    def close(self) -> None:
        self._writer.close()

    async def reserve(
        self,
        key_id: str,
        kind: BudgetPeriod,
        budget: int,
        worst: int,
        fit: Fit | None = None,
        now: datetime | None = None,
    ) -> Hold | Refusal:
        """Reserve ``worst`` if it fits; else what ``fit`` makes of the rest; else refuse."""
        period, resets = period_of(kind, now or datetime.now(UTC))
        taken = await self._writer.reserve(key_id, period, budget, worst, fit)
        if isinstance(taken, Row):
            return Refusal(taken.spent, taken.reserved, budget, period, resets, kind)
        return Hold(key_id, period, taken)

    def settle(self, hold: Hold, cost: int) -> None:
        """Replace the reservation by the real cost (written in the background)."""
        if self._queue is not None:
            self._queue.add(hold, cost)
            return
        task = asyncio.get_running_loop().create_task(self._settle_now(hold, cost))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle_now(self, hold: Hold, cost: int) -> None:
        try:
            await self._writer.settle([Settlement(hold.key_id, hold.period, cost, hold.amount)])
        except Exception:
            log.exception("could not record spend")

    async def drain(self) -> None:
        """Wait until every settlement so far is written (called on shutdown)."""
        if self._queue is not None:
            await self._queue.drain()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def usage(self, key_id: str, kind: BudgetPeriod) -> dict[str, Any]:
        period, resets = period_of(kind, datetime.now(UTC))
        c = budget_usage.c
        query = select(c.spent_nano_usd, c.reserved_nano_usd).where(
            and_(c.key_id == key_id, c.period == period)
        )
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).first()
        spent, reserved = (int(found[0]), int(found[1])) if found else (0, 0)
        return {
            "period": period,
            "spent_usd": spent / NANO,
            "reserved_usd": reserved / NANO,
            "resets_at": resets.isoformat() if resets else None,
        }

    async def spend_by(
        self, group: str, since: float, until: float, key_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Requests, tokens and spend from the audit index, grouped by ``key``, ``model`` or
        ``provider``. Only admitted requests count: those sent to a provider or answered
        from the cache (a refusal never names a provider)."""
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
            .where(and_(c.ts >= since, c.ts < until, c.provider.is_not(None)))
            .group_by(column)
            .order_by(func.sum(c.cost_usd).desc())
        )
        if key_id is not None:
            query = query.where(c.key_id == key_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [{str(k): v for k, v in r.items()} for r in rows]
