"""Turn a search request into one SQL statement over the FTS5 index.

The agent's words never reach FTS5 query syntax as-is: each word is quoted, so quotes,
``NEAR``, column filters and the like are plain text, not operators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from securellm.mcp.errors import InvalidInputError

_WORD = re.compile(r"\w+\*?", re.UNICODE)
MAX_TERMS = 32
# Column weights for bm25: a word in the title counts most, then tags, then the body.
_BM25 = "bm25(entries_fts, 4.0, 1.0, 2.0)"


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


def fts_expression(text: str, mode: Literal["all", "any"] = "all") -> str:
    """``deploy nix*`` → ``"deploy" AND "nix"*``; anything but words is dropped."""
    terms = []
    for word in _WORD.findall(text)[:MAX_TERMS]:
        prefix = word.endswith("*")
        bare = word.rstrip("*")
        if bare:
            terms.append(f'"{bare}"' + ("*" if prefix else ""))
    if not terms:
        raise InvalidInputError("the search query has no words to search for")
    return (" AND " if mode == "all" else " OR ").join(terms)


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


def _filters(query: SearchQuery) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    if query.types:
        where.append(f"e.type IN ({', '.join('?' for _ in query.types)})")
        params.extend(query.types)
    for tag in query.tags:
        where.append("EXISTS (SELECT 1 FROM entry_tags t WHERE t.entry_id = e.id AND t.tag = ?)")
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
    """SQL and parameters; one row more than ``limit`` is fetched to know if a page follows."""
    where, params = _filters(query)
    if query.text is not None:
        expression = fts_expression(query.text, query.mode)
        # Only constants are formatted in; every value is a bound parameter.
        sql = (
            f"SELECT {columns}, {_BM25} AS score, "  # noqa: S608
            "snippet(entries_fts, 1, '[', ']', '…', 16) "
            "FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid "
            f"WHERE entries_fts MATCH ? {''.join(' AND ' + w for w in where)} "
            "ORDER BY score LIMIT ? OFFSET ?"
        )
        return sql, [expression, *params, query.limit + 1, query.offset]
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = (
        f"SELECT {columns}, 0.0, substr(e.content, 1, 200) FROM entries e {clause} "  # noqa: S608
        "ORDER BY e.created_at DESC, e.id DESC LIMIT ? OFFSET ?"
    )
    return sql, [*params, query.limit + 1, query.offset]
