"""Aggregates over the audit index: totals, a bucketed time series, breakdowns, latency.

Used by the dashboard's overview (and usable by the admin API). Everything runs in SQL on
SQLite and PostgreSQL alike; an error is any record with a status of 400 or more (refusals by
our own limits included), a cache hit is a record whose outcome is ``cache_hit``. The
dashboard's own sign-ins (endpoint ``ui_signin``) are in the trail but not in these figures.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from securellm.gateway.tables import audit_events

GROUPS = ("key", "model", "provider")
DASHBOARD_SIGNIN = "ui_signin"
c = audit_events.c


def _window(since: float, until: float) -> ColumnElement[bool]:
    api_traffic = or_(c.endpoint.is_(None), c.endpoint != DASHBOARD_SIGNIN)
    return and_(c.ts >= since, c.ts < until, api_traffic)


def _counts() -> list[Any]:
    errors = func.coalesce(func.sum(case((c.status >= 400, 1), else_=0)), 0)
    return [
        func.count().label("requests"),
        errors.label("errors"),
        func.coalesce(func.sum(c.total_tokens), 0).label("tokens"),
        func.coalesce(func.sum(c.cost_usd), 0.0).label("cost_usd"),
    ]


async def _rows(engine: AsyncEngine, statement: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(statement)).mappings().all()
    return [{str(k): v for k, v in r.items()} for r in rows]


FIGURES = ("requests", "errors", "tokens", "cost_usd", "cache_hits")


def _figures(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {"requests": 0, "errors": 0, "tokens": 0, "cost_usd": 0.0, "cache_hits": 0}
    return {name: (float if name == "cost_usd" else int)(row[name]) for name in FIGURES}


def _with_hits() -> list[Any]:
    hits = func.coalesce(func.sum(case((c.outcome == "cache_hit", 1), else_=0)), 0)
    return [*_counts(), hits.label("cache_hits")]


async def totals(engine: AsyncEngine, since: float, until: float) -> dict[str, Any]:
    """Requests, errors, tokens, spend and cache hits between ``since`` and ``until``."""
    statement = select(*_with_hits()).where(_window(since, until))
    return _figures((await _rows(engine, statement))[0])


def sum_of(buckets: list[dict[str, Any]]) -> dict[str, Any]:
    """The window's totals from its :func:`series` (one query serves both)."""
    return {name: sum(b[name] for b in buckets) for name in FIGURES}


def _bucket_of(engine: AsyncEngine, since: float, width: float) -> ColumnElement[Any]:
    offset = (c.ts - since) / width
    if engine.dialect.name == "postgresql":  # CAST rounds there; floor first
        return cast(func.floor(offset), Integer)
    return cast(offset, Integer)  # SQLite truncates, and the offset is never negative


async def series(
    engine: AsyncEngine, since: float, until: float, buckets: int
) -> list[dict[str, Any]]:
    """``buckets`` equal slices of the window, oldest first, each with its start (Unix
    seconds) and the figures of :func:`totals`; empty slices are included with zeros."""
    width = (until - since) / buckets
    bucket = _bucket_of(engine, since, width).label("bucket")
    statement = select(bucket, *_with_hits()).where(_window(since, until)).group_by(bucket)
    found = {int(r["bucket"]): r for r in await _rows(engine, statement)}
    return [{"start": since + i * width, **_figures(found.get(i))} for i in range(buckets)]


async def breakdown(
    engine: AsyncEngine, group: str, since: float, until: float, limit: int = 10
) -> list[dict[str, Any]]:
    """Requests, errors, tokens and spend per key (with its recorded name), model or
    provider, the largest spenders first, then the busiest."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}")
    column = {"key": c.key_id, "model": c.model, "provider": c.provider}[group]
    label = func.max(c.key_name) if group == "key" else func.max(column)
    statement = (
        select(column.label("group"), label.label("label"), *_counts())
        .where(_window(since, until))
        .group_by(column)
        .order_by(func.sum(c.cost_usd).desc(), func.count().desc())
        .limit(limit)
    )
    return await _rows(engine, statement)


async def latencies(
    engine: AsyncEngine, since: float, until: float
) -> dict[str, dict[str, float | None]]:
    """p50 and p95 of ``duration_ms`` per provider in the window, in one sorted pass (window
    functions, nearest rank: the smallest rank at or above ``q * count``)."""
    ranked = (
        select(
            c.provider.label("provider"),
            c.duration_ms.label("ms"),
            func.row_number().over(partition_by=c.provider, order_by=c.duration_ms).label("rn"),
            func.count().over(partition_by=c.provider).label("n"),
        )
        .where(and_(_window(since, until), c.provider.is_not(None)))
        .subquery()
    )
    picks = [
        (name, and_(ranked.c.rn >= q * ranked.c.n, ranked.c.rn - 1 < q * ranked.c.n))
        for name, q in (("p50_ms", 0.50), ("p95_ms", 0.95))
    ]
    statement = select(
        ranked.c.provider,
        *(func.max(case((hit, ranked.c.ms))).label(name) for name, hit in picks),
    ).group_by(ranked.c.provider)
    return {
        str(r["provider"]): {name: r[name] for name, _ in picks}
        for r in await _rows(engine, statement)
    }


async def last_error(
    engine: AsyncEngine, provider: str, since: float, until: float
) -> dict[str, Any] | None:
    """The provider's most recent record with a 5xx status in the window, or None."""
    statement = (
        select(c.ts, c.status, c.error, c.model)
        .where(and_(_window(since, until), c.provider == provider, c.status >= 500))
        .order_by(c.ts.desc())
        .limit(1)
    )
    rows = await _rows(engine, statement)
    return rows[0] if rows else None
