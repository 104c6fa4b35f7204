"""Exports of the filtered audit rows: JSON Lines, and CSV safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from securellm.gateway.audit.query import COLUMNS, AuditFilter, jsonl, stream_rows
from securellm.gateway.state import GatewayState

FORMULA_START = ("=", "+", "-", "@")


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula: a leading = + - @ gets a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_row(values: list[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(v) for v in values])
    return buffer.getvalue().encode()


async def export_jsonl(state: GatewayState, flt: AuditFilter) -> AsyncIterator[bytes]:
    async for row in stream_rows(state.engine, flt):
        yield jsonl(row)


async def export_csv(state: GatewayState, flt: AuditFilter) -> AsyncIterator[bytes]:
    yield csv_row(list(COLUMNS))
    async for row in stream_rows(state.engine, flt):
        yield csv_row([row.get(name) for name in COLUMNS])
