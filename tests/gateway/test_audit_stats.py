"""Aggregates over the audit index (the overview's figures), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.core.db import create_engine
from securellm.gateway.audit import stats
from securellm.gateway.audit.index import index_for
from securellm.gateway.migrations import upgrade
from securellm.gateway.tables import audit_events
from support.audit_rows import audit_row
from support.postgres_server import postgres_server

T0 = 1_800_000_000.0  # the window under test: [T0, T0 + 3600)
T1 = T0 + 3600


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(audit_events.delete())
    yield engine
    await engine.dispose()


async def write(engine: AsyncEngine, *rows: tuple[object, ...]) -> None:
    index = index_for(engine)
    try:
        await index.insert(list(rows))
    finally:
        index.close()


async def test_totals_count_requests_errors_tokens_spend_and_cache_hits(
    engine: AsyncEngine,
) -> None:
    await write(
        engine,
        audit_row(T0 + 1, total_tokens=10, cost_usd=0.5),
        audit_row(T0 + 2, status=502, outcome="failed", provider="fake"),
        audit_row(T0 + 3, status=429, outcome="refused", provider=None),
        audit_row(T0 + 4, outcome="cache_hit", total_tokens=10),
        audit_row(T1, total_tokens=99, cost_usd=9.0),  # just outside: until is exclusive
    )
    assert await stats.totals(engine, T0, T1) == {
        "requests": 4,
        "errors": 2,
        "tokens": 20,
        "cost_usd": 0.5,
        "cache_hits": 1,
    }


async def test_an_empty_window_totals_zero(engine: AsyncEngine) -> None:
    totals = await stats.totals(engine, T0, T1)
    assert totals == {"requests": 0, "errors": 0, "tokens": 0, "cost_usd": 0.0, "cache_hits": 0}


async def test_series_puts_each_record_in_its_bucket_and_keeps_empty_ones(
    engine: AsyncEngine,
) -> None:
    await write(
        engine,
        audit_row(T0),
        audit_row(T0 + 59.9, status=500),
        audit_row(T0 + 60),
        audit_row(T1 - 0.1, status=404),
    )
    buckets = await stats.series(engine, T0, T1, 60)
    assert len(buckets) == 60
    figures = [(b["start"], b["requests"], b["errors"]) for b in buckets]
    assert figures[0] == (T0, 2, 1)
    assert figures[1] == (T0 + 60, 1, 0)
    assert figures[59] == (T0 + 59 * 60, 1, 1)
    assert sum(b["requests"] for b in buckets[2:59]) == 0


async def test_the_series_sums_to_the_totals(engine: AsyncEngine) -> None:
    await write(
        engine,
        audit_row(T0 + 1, total_tokens=10, cost_usd=0.25),
        audit_row(T0 + 1800, status=502, outcome="failed"),
        audit_row(T0 + 3000, outcome="cache_hit", total_tokens=4),
    )
    buckets = await stats.series(engine, T0, T1, 24)
    assert stats.sum_of(buckets) == await stats.totals(engine, T0, T1)


async def test_breakdown_per_key_names_the_key_and_orders_by_spend(engine: AsyncEngine) -> None:
    await write(
        engine,
        audit_row(T0 + 1, key_id="key-a", key_name="alpha", cost_usd=0.1, total_tokens=5),
        audit_row(T0 + 2, key_id="key-b", key_name="beta", cost_usd=0.7, total_tokens=7),
        audit_row(T0 + 3, key_id="key-b", key_name="beta", status=500),
    )
    rows = await stats.breakdown(engine, "key", T0, T1)
    assert [(r["group"], r["label"], r["requests"], r["errors"]) for r in rows] == [
        ("key-b", "beta", 2, 1),
        ("key-a", "alpha", 1, 0),
    ]
    assert [r["tokens"] for r in rows] == [7, 5]
    assert rows[0]["cost_usd"] == pytest.approx(0.7)


async def test_breakdown_per_provider_and_model(engine: AsyncEngine) -> None:
    await write(
        engine,
        audit_row(T0 + 1, provider="a", model="a/x", cost_usd=0.2),
        audit_row(T0 + 2, provider="b", model="b/y", cost_usd=0.3),
        audit_row(T0 + 3, provider="b", model="b/z", cost_usd=0.3),
    )
    providers = await stats.breakdown(engine, "provider", T0, T1)
    assert [(r["group"], r["requests"]) for r in providers] == [("b", 2), ("a", 1)]
    models = await stats.breakdown(engine, "model", T0, T1)
    assert sorted(r["group"] for r in models) == ["a/x", "b/y", "b/z"]


async def test_breakdown_refuses_an_unknown_group(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="group must be one of"):
        await stats.breakdown(engine, "colour", T0, T1)


async def test_latencies_give_nearest_rank_p50_and_p95_per_provider(engine: AsyncEngine) -> None:
    await write(engine, *(audit_row(T0 + i, duration_ms=float(100 - i)) for i in range(100)))
    await write(engine, audit_row(T0 + 200, provider="other", duration_ms=5000.0))
    await write(engine, audit_row(T0 + 201, provider=None, duration_ms=1.0))  # a refusal
    assert await stats.latencies(engine, T0, T1) == {
        "fake": {"p50_ms": 50.0, "p95_ms": 95.0},
        "other": {"p50_ms": 5000.0, "p95_ms": 5000.0},
    }


async def test_three_records_put_p50_on_the_second_and_p95_on_the_third(
    engine: AsyncEngine,
) -> None:
    await write(engine, *(audit_row(T0 + i, duration_ms=ms) for i, ms in enumerate((3, 1, 2))))
    assert await stats.latencies(engine, T0, T1) == {"fake": {"p50_ms": 2.0, "p95_ms": 3.0}}


async def test_no_records_mean_no_latencies(engine: AsyncEngine) -> None:
    assert await stats.latencies(engine, T0, T1) == {}


async def test_last_error_is_the_newest_5xx_of_that_provider(engine: AsyncEngine) -> None:
    await write(
        engine,
        audit_row(T0 + 1, status=502, error="upstream said no"),
        audit_row(T0 + 2, status=503, error="upstream unavailable"),
        audit_row(T0 + 3, status=429, outcome="refused"),
        audit_row(T0 + 4, status=500, provider="other", error="not ours"),
    )
    found = await stats.last_error(engine, "fake", T0, T1)
    assert found is not None
    assert (found["status"], found["error"]) == (503, "upstream unavailable")
    assert await stats.last_error(engine, "idle", T0, T1) is None
