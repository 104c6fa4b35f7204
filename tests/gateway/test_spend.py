"""The budget ledger: exact integer amounts, one atomic check-and-reserve, batched settling."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from securellm.core.db import create_engine
from securellm.gateway.migrations import upgrade
from securellm.gateway.spend import (
    BudgetLedger,
    Hold,
    Refusal,
    SettlementQueue,
    format_usd,
    period_of,
    to_nano,
    transient,
)
from securellm.gateway.spend_writers import Settlement
from securellm.gateway.tables import audit_events


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[BudgetLedger]:
    engine = create_engine(f"sqlite:///{tmp_path}/budget.db")
    await upgrade(engine)
    book = BudgetLedger(engine)
    yield book
    await book.drain()
    book.close()
    await engine.dispose()


def test_day_month_and_total_periods_have_stable_names() -> None:
    now = datetime(2026, 11, 21, 23, 59, tzinfo=UTC)
    assert period_of("day", now) == ("2026-11-21", datetime(2026, 11, 22, tzinfo=UTC))
    assert period_of("month", now) == ("2026-11", datetime(2026, 12, 1, tzinfo=UTC))
    assert period_of("total", now) == ("total", None)


@pytest.mark.parametrize(
    ("nano", "shown"),
    [
        (4_875_000, "$0.004875"),
        (5_000_000, "$0.005"),
        (5 * 10**9, "$5.00"),
        (0, "$0.00"),
        (1, "$0.000000001"),
    ],
)
def test_amounts_are_shown_exactly_not_rounded_to_the_cent(nano: int, shown: str) -> None:
    assert format_usd(nano) == shown


def test_dollars_convert_to_whole_nano_dollars() -> None:
    assert to_nano(0.005) == 5_000_000
    assert to_nano(0.1 + 0.2) == 300_000_000


async def test_a_reservation_that_reaches_the_budget_exactly_is_admitted(
    ledger: BudgetLedger,
) -> None:
    first = await ledger.reserve("k", "total", 1_000, 600)
    second = await ledger.reserve("k", "total", 1_000, 400)
    assert isinstance(first, Hold) and isinstance(second, Hold)


async def test_a_reservation_one_nano_dollar_past_the_budget_is_refused(
    ledger: BudgetLedger,
) -> None:
    await ledger.reserve("k", "total", 1_000, 600)
    refusal = await ledger.reserve("k", "total", 1_000, 401)
    assert refusal == Refusal(0, 600, 1_000, "total", None, "total")


async def test_settling_replaces_the_reservation_by_the_cost(ledger: BudgetLedger) -> None:
    hold = await ledger.reserve("k", "day", 10**9, 300)
    during = await ledger.usage("k", "day")
    assert isinstance(hold, Hold)
    ledger.settle(hold, 100)
    await ledger.drain()
    after = await ledger.usage("k", "day")
    assert (during["reserved_usd"], during["spent_usd"]) == (300e-9, 0.0)
    assert (after["reserved_usd"], after["spent_usd"]) == (0.0, 100e-9)


async def test_spent_counts_against_later_reservations(ledger: BudgetLedger) -> None:
    hold = await ledger.reserve("k", "total", 1_000, 500)
    assert isinstance(hold, Hold)
    ledger.settle(hold, 900)
    await ledger.drain()
    refusal = await ledger.reserve("k", "total", 1_000, 101)
    assert isinstance(refusal, Refusal) and (refusal.spent, refusal.reserved) == (900, 0)


async def test_fit_reserves_part_of_what_is_left_when_the_worst_case_does_not_fit(
    ledger: BudgetLedger,
) -> None:
    await ledger.reserve("k", "total", 1_000, 700)
    seen: list[int] = []

    def fit(remaining: int) -> int | None:
        seen.append(remaining)
        return remaining - 50

    hold = await ledger.reserve("k", "total", 1_000, 500, fit)
    assert seen == [300]
    assert hold == Hold("k", "total", 250)


async def test_fit_may_refuse_what_is_left(ledger: BudgetLedger) -> None:
    await ledger.reserve("k", "total", 1_000, 900)
    refusal = await ledger.reserve("k", "total", 1_000, 500, lambda remaining: None)
    assert isinstance(refusal, Refusal) and refusal.reserved == 900


async def test_two_ledgers_on_one_sqlite_file_never_reserve_past_the_budget(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    engines = [create_engine(url), create_engine(url)]
    await upgrade(engines[0])
    ledgers = [BudgetLedger(e) for e in engines]
    results = await asyncio.gather(
        *(ledgers[i % 2].reserve("k", "total", 10_000, 300) for i in range(60))
    )
    for book, engine in zip(ledgers, engines, strict=True):
        book.close()
        await engine.dispose()
    assert sum(isinstance(r, Hold) for r in results) == 33  # 33 * 300 <= 10,000 < 34 * 300


async def test_settlements_of_one_key_and_period_are_folded_into_one_row() -> None:
    batches: list[list[Settlement]] = []

    async def write(batch: list[Settlement]) -> None:
        batches.append(batch)

    queue = SettlementQueue(write)
    for cost in (10, 20, 30):
        queue.add(Hold("k", "total", 100), cost)
    queue.add(Hold("other", "2026-11", 5), 1)
    await queue.drain()
    assert batches == [[Settlement("k", "total", 60, 300), Settlement("other", "2026-11", 1, 5)]]


async def test_a_failed_settlement_write_is_retried() -> None:
    batches: list[list[Settlement]] = []

    async def flaky(batch: list[Settlement]) -> None:
        batches.append(batch)
        if len(batches) == 1:
            raise OSError("database is away")

    queue = SettlementQueue(flaky)
    queue.add(Hold("k", "total", 100), 40)
    while len(batches) < 2:
        await asyncio.sleep(0.05)
    await queue.drain()
    assert batches == [[Settlement("k", "total", 40, 100)]] * 2


async def test_a_settlement_that_can_never_be_written_is_dropped_not_retried_forever() -> None:
    batches: list[list[Settlement]] = []

    async def broken(batch: list[Settlement]) -> None:
        batches.append(batch)
        if batch[0].key_id == "bad":
            raise OverflowError("Python int too large to convert to SQLite INTEGER")

    queue = SettlementQueue(broken)
    queue.add(Hold("bad", "total", 100), 40)
    while not batches:
        await asyncio.sleep(0.01)
    queue.add(Hold("good", "total", 100), 40)  # a retried "bad" would travel with it
    await queue.drain()
    assert batches == [
        [Settlement("bad", "total", 40, 100)],
        [Settlement("good", "total", 40, 100)],
    ]


def test_a_locked_or_unreachable_database_is_worth_retrying() -> None:
    assert transient(sqlite3.OperationalError("database is locked"))
    assert transient(OSError("connection refused"))
    assert not transient(OverflowError("too large"))


async def test_the_earlier_path_writes_each_settlement_on_its_own(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/budget.db")
    await upgrade(engine)
    ledger = BudgetLedger(engine, fast=False)
    holds = [await ledger.reserve("k", "total", 10_000, 100) for _ in range(3)]
    for hold in holds:
        assert isinstance(hold, Hold)
        ledger.settle(hold, 70)
    await ledger.drain()
    usage = await ledger.usage("k", "total")
    ledger.close()
    await engine.dispose()
    assert (usage["spent_usd"], usage["reserved_usd"]) == (210e-9, 0.0)


async def test_spend_by_counts_only_requests_sent_to_a_provider(ledger: BudgetLedger) -> None:
    rows = [
        {"provider": "fake", "outcome": "ok", "status": 200, "cost_usd": 0.5},
        {"provider": "fake", "outcome": "failed", "status": 502, "cost_usd": 0.0},
        {"provider": None, "outcome": "refused", "status": 429, "cost_usd": 0.0},
        {"provider": None, "outcome": "rate_limited", "status": 429, "cost_usd": 0.0},
    ]
    async with ledger.engine.begin() as conn:
        await conn.execute(
            audit_events.insert(),
            [
                {
                    "ts": 100.0,
                    "request_id": f"r{i}",
                    "event_type": "request.x",
                    "key_id": "k",
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "total_tokens": 0,
                    "duration_ms": 1.0,
                    **row,
                }
                for i, row in enumerate(rows)
            ],
        )
    grouped = await ledger.spend_by("key", 0.0, 200.0)
    assert [(g["group"], g["requests"], g["cost_usd"]) for g in grouped] == [("k", 2, 0.5)]


async def test_a_reservation_waits_for_another_writer_instead_of_failing(
    ledger: BudgetLedger, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "budget.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
    pending = asyncio.ensure_future(ledger.reserve("k", "total", 1_000, 100))
    await asyncio.sleep(0.2)
    waited = not pending.done()
    other.execute("COMMIT")
    other.close()
    assert waited
    assert await pending == Hold("k", "total", 100)
