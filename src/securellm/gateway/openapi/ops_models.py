"""Answers of the admin and operations endpoints (keys, audit, spend, cache, health)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, create_model
from sqlalchemy import Table

from securellm.gateway.openapi.wire import OpenModel
from securellm.gateway.tables import audit_events


class KeyView(OpenModel):
    """A virtual key as the admin API shows it (never its secret or hash)."""

    id: str
    name: str
    prefix: str
    models: list[str] | None
    rpm: int | None
    tpm: int | None
    max_concurrency: int | None
    budget_usd: float | None
    period: str | None
    log_content: bool
    cache_enabled: bool
    expires_at: str | None
    revoked: bool
    created_at: str


class KeyCreated(KeyView):
    """A new key: ``key`` is the secret, shown this once."""

    key: str


class KeyList(OpenModel):
    data: list[KeyView]


def _row_model(name: str, table: Table, skip: frozenset[str]) -> type[BaseModel]:
    """A model of one table row, from the table itself (so it follows new columns)."""
    fields: dict[str, Any] = {}
    for column in table.columns:
        if str(column.name) in skip:
            continue
        kind: Any = column.type.python_type
        fields[str(column.name)] = (kind | None if column.nullable else kind, ...)
    return create_model(name, __base__=OpenModel, **fields)


AuditRecord = _row_model("AuditRecord", audit_events, frozenset({"id"}))


class AuditPage(OpenModel):
    object: Literal["list"]
    data: list[AuditRecord]  # type: ignore[valid-type]


class SpendRow(OpenModel):
    group: str | None
    requests: int
    tokens: int
    cost_usd: float


class BudgetUsage(OpenModel):
    key_id: str
    name: str
    budget_usd: float
    period: str
    spent_usd: float
    reserved_usd: float
    resets_at: str | None


class SpendReport(OpenModel):
    object: Literal["spend"]
    group_by: Literal["key", "model", "provider"]
    since: float
    until: float
    data: list[SpendRow]
    budgets: list[BudgetUsage]


class CacheStats(OpenModel):
    enabled: bool
    backend: str
    degraded: bool
    entries: int
    hits: int
    misses: int
    hit_ratio: float
    stores: int
    errors: int
    ttl_s: float


class CacheCleared(OpenModel):
    cleared: int


class Health(OpenModel):
    status: Literal["ok"]


class Readiness(OpenModel):
    """200 when ready, 503 while draining or when the database does not answer."""

    status: Literal["ready", "not ready"]
    checks: dict[str, Any]
