"""Search requests, their filters as SQL, and the recency listing.

Text searches run in :mod:`.keyword` (the agent's words never reach FTS5 syntax as-is:
:mod:`.fts` re-quotes every term).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from securellm.mcp.errors import InvalidInputError


@dataclass(frozen=True)
class SearchQuery:
    """A search (``text`` set) or a recency listing (``text`` None), with filters."""

    text: str | None
    limit: int = 20
    offset: int = 0
    mode: Literal["all", "any"] = "all"
    types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    session_id: str | None = None
    project: str | None = None
    since: str | None = None
    until: str | None = None


def normalise_time(value: str, name: str) -> str:
    """Accept any ISO 8601 time; store and compare in one UTC format."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"{name} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="microseconds")


def filter_clauses(query: SearchQuery) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    if query.types:
        where.append(f"e.type IN ({', '.join('?' for _ in query.types)})")
        params.extend(query.types)
    for tag in query.tags:
        where.append("e.id IN (SELECT t.entry_id FROM entry_tags t WHERE t.tag = ?)")
        params.append(tag.strip().lower())
    for column, value in (("session_id", query.session_id), ("project", query.project)):
        if value is not None:
            where.append(f"e.{column} = ?")
            params.append(value)
    if query.since is not None:
        where.append("e.created_at >= ?")
        params.append(normalise_time(query.since, "since"))
    if query.until is not None:
        where.append("e.created_at < ?")
        params.append(normalise_time(query.until, "until"))
    return where, params


def build_search_sql(query: SearchQuery, columns: str) -> tuple[str, list[object]]:
    """A recency listing's SQL and parameters (text searches are in :mod:`.keyword`); one row
    more than ``limit`` is fetched to know if a page follows."""
    where, params = filter_clauses(query)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = (
        f"SELECT {columns}, 0.0, substr(e.content, 1, 200) FROM entries e {clause} "  # noqa: S608
        "ORDER BY e.created_at DESC, e.id DESC LIMIT ? OFFSET ?"
    )
    return sql, [*params, query.limit + 1, query.offset]
