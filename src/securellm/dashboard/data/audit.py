"""The audit page's data: filters read from a query string, pages of records, exports.

Everything goes through :mod:`securellm.gateway.audit.query` (the admin API's own search).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, get_args

from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.gateway.audit.query import (
    COLUMNS,
    AuditFilter,
    csv_header,
    csv_line,
    jsonl,
    parse_time,
    query,
    stream_rows,
)
from securellm.gateway.context import Outcome
from securellm.gateway.keys import KeyNotFound, KeyStore

PAGE_SIZE = 50
FIELDS = ("since", "until", "key", "model", "provider", "status", "outcome")
OUTCOMES = get_args(Outcome)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class BadFilter(ValueError):
    """A filter value that cannot be used; ``field`` names it for the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AuditView:
    """The filter as typed (to fill the form back in) and as the query runs."""

    typed: dict[str, str]
    flt: AuditFilter
    before: float | None = None


def _time(name: str, value: str) -> float:
    try:
        moment = parse_time(value)
    except ValueError as exc:
        raise BadFilter(name, str(exc)) from None
    if not math.isfinite(moment):
        raise BadFilter(name, f"{name} must be a finite time")
    return moment


def _status(value: str) -> int:
    if not (value.isascii() and value.isdigit() and 100 <= int(value) <= 599):
        raise BadFilter("status", "status must be an HTTP status code from 100 to 599")
    return int(value)


async def read_view(params: Mapping[str, str], keys: KeyStore) -> AuditView:
    """The filter in ``params`` (empty fields ignored); :class:`BadFilter` when unusable."""
    typed = {name: params.get(name, "").strip() for name in FIELDS}
    given = {name: value for name, value in typed.items() if value}
    if "outcome" in given and given["outcome"] not in OUTCOMES:
        raise BadFilter("outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
    flt = AuditFilter(
        since=_time("since", given["since"]) if "since" in given else None,
        until=_time("until", given["until"]) if "until" in given else None,
        model=given.get("model"),
        provider=given.get("provider"),
        status=_status(given["status"]) if "status" in given else None,
        outcome=given.get("outcome"),
        limit=PAGE_SIZE + 1,
    )
    if "key" in given:
        try:
            flt = replace(flt, key=(await keys.get(given["key"])).id)
        except KeyNotFound:
            flt = replace(flt, key_name=given["key"])  # a key since deleted: its recorded name
    before = params.get("before")
    return AuditView(typed, flt, _time("before", before) if before else None)


async def page_of(
    engine: AsyncEngine, view: AuditView
) -> tuple[list[dict[str, Any]], float | None]:
    """One page, newest first, and the ``before`` of the next (older) page if there is one."""
    flt = view.flt
    if view.before is not None:
        flt = replace(flt, until=min(view.before, flt.until or view.before))
    rows = await query(engine, flt)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1]["ts"] if more and rows else None)


async def record(engine: AsyncEngine, request_id: str) -> list[dict[str, Any]]:
    """Every index row of one request (a request can have several audit events)."""
    return await query(engine, AuditFilter(request_id=request_id, limit=20))


def _safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


async def export(engine: AsyncEngine, view: AuditView, fmt: str) -> AsyncIterator[bytes]:
    """All matching records (no page limit) as JSON lines or CSV."""
    flt = replace(view.flt, limit=None)
    if fmt == "csv":
        yield csv_header().encode()
    async for row in stream_rows(engine, flt):
        if fmt == "csv":
            yield csv_line({k: _safe_cell(row.get(k)) for k in COLUMNS}).encode()
        else:
            yield jsonl(row)
