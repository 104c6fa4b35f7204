"""The audit page's data: filters from a query string, one page of rows, one record."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from securellm.gateway.audit.query import AuditFilter, one, page, parse_time
from securellm.gateway.keys import KeyNotFound
from securellm.gateway.state import GatewayState

PAGE_SIZE = 50
MAX_INT = 2**63 - 1
FIELDS = ("since", "until", "key", "model", "provider", "status", "outcome")


class BadFilter(ValueError):
    """A filter value the page cannot use (shown to the user with a 400)."""


@dataclass(frozen=True)
class AuditPage:
    rows: list[dict[str, Any]]
    form: dict[str, str]
    next_url: str | None
    query: str = ""  # the filters as a query string (for the export links)


def _form(params: dict[str, str]) -> dict[str, str]:
    return {name: params[name].strip() for name in FIELDS if params.get(name, "").strip()}


def _time(form: dict[str, str], name: str) -> float | None:
    if name not in form:
        return None
    try:
        moment = parse_time(form[name])
    except ValueError as exc:
        raise BadFilter(f"{name}: {exc}") from None
    if not math.isfinite(moment):
        raise BadFilter(f"{name} must be a finite time")
    return moment


def _int(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_INT:
        raise BadFilter(f"{name} must be a whole number")
    return int(value)


async def _key_id(state: GatewayState, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return (await state.keys.get(value)).id
    except KeyNotFound:
        return value


async def audit_filter(state: GatewayState, params: dict[str, str]) -> AuditFilter:
    """The filter a query string asks for; :class:`BadFilter` for a value it cannot use."""
    form = _form(params)
    return AuditFilter(
        since=_time(form, "since"),
        until=_time(form, "until"),
        key=await _key_id(state, form.get("key")),
        model=form.get("model"),
        provider=form.get("provider"),
        status=_int(form.get("status"), "status"),
        outcome=form.get("outcome"),
        limit=PAGE_SIZE,
        before=_int(params.get("before"), "before"),
    )


async def audit_page(state: GatewayState, params: dict[str, str]) -> AuditPage:
    """One page of matching rows, newest first, and the link to the next one."""
    flt = await audit_filter(state, params)
    rows = await page(state.engine, replace(flt, limit=PAGE_SIZE + 1))
    form = _form(params)
    next_url = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        next_url = "/ui/audit?" + urlencode({**form, "before": rows[-1]["id"]})
    return AuditPage(rows=rows, form=form, next_url=next_url, query=urlencode(form))


def journal_record(directory: Path, row: dict[str, Any]) -> dict[str, Any] | None:
    """The JSONL record an index row points to (its file and line), or ``None``."""
    name, line = row.get("file"), row.get("line")
    if not name or not isinstance(line, int) or "/" in name or name.startswith("."):
        return None
    path = directory / name
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if number == line:
                try:
                    record: Any = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    return None
                return record if isinstance(record, dict) else None
    return None


async def audit_record(state: GatewayState, row_id: int) -> tuple[dict[str, Any], Any] | None:
    """The index row and its journal record, or ``None`` for an unknown id."""
    row = await one(state.engine, row_id)
    if row is None:
        return None
    return row, journal_record(state.settings.audit_dir, row)
