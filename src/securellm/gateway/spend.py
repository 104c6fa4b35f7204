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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.core.db import sqlite_file
from securellm.gateway.keys import BudgetPeriod
from securellm.gateway.spend_writers import (
    Fit,
    Row,
    Settlement,
    SqlBudgetWriter,
    SqliteBudgetWriter,
)
from securellm.gateway.tables import audit_events, budget_usage

log = logging.getLogger(__name__)
NANO = 1_000_000_000  # nano-USD per USD
RETRY_S = 0.5


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


def transient(exc: Exception) -> bool:
    """A database error worth retrying: locked, busy, disconnected (not a bad value)."""
    if isinstance(exc, (sqlite3.OperationalError, OSError, TimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError)
    )


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
                except Exception as exc:
                    if self._closing or not transient(exc):
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
