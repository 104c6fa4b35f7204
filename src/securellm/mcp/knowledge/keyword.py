"""Keyword search over the FTS5 index: tiers of matched terms, bm25 within a tier, bounded work.

Three things keep a search fast on a large base:

- FTS5 ranks inside the index (``ORDER BY rank`` with the bm25 weights stored in the index's
  ``rank`` setting) and only the page's rowids are joined to ``entries``;
- snippets are computed for the page only, never for every match;
- an expression matching more than :data:`RANK_WINDOW` entries is ranked over its newest
  :data:`RANK_WINDOW` matches (found in rowid order, which costs no ranking): a word in half the
  base says little about which of 50,000 notes is best, and recency is a fair tie-breaker.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any, Literal

from securellm.mcp.knowledge.fts import at_least, parse_terms, tiers
from securellm.mcp.knowledge.search import SearchQuery, filter_clauses

RANK_WINDOW = 4000
_SNIPPET = (
    "SELECT snippet(entries_fts, 1, '[', ']', '…', 16) FROM entries_fts "
    "WHERE entries_fts MATCH ? AND rowid = ?"
)
_FLOOR = (
    "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?"
)

Mode = Literal["all", "any"]


def keyword_search(
    conn: sqlite3.Connection, query: SearchQuery, columns: str
) -> tuple[list[tuple[Any, ...]], Mode]:
    """Rows of ``columns`` + score + snippet (one more than the page when a page follows), and
    the mode that answered: ``all`` falls back to ``any`` when no entry has every term."""
    assert query.text is not None
    terms = parse_terms(query.text)
    rows = _run_tiers(conn, tiers(terms, query.mode), query, columns)
    mode: Mode = query.mode
    if not rows and mode == "all" and len(terms) > 1 and not _has_match(conn, terms, query):
        rows = _run_tiers(conn, tiers(terms, "any")[1:], query, columns)
        mode = "any"
    highlight = at_least(terms, 1)
    page = [(*row, _snippet(conn, highlight, int(row[0]))) for row in rows]
    return page, mode


def _has_match(conn: sqlite3.Connection, terms: list[str], query: SearchQuery) -> bool:
    if query.offset == 0:
        return False  # the first page was empty, so nothing matches
    probe = replace(query, offset=0, limit=1)
    return bool(_run_tiers(conn, [at_least(terms, len(terms))], probe, "e.id"))


def _run_tiers(
    conn: sqlite3.Connection, expressions: list[str], query: SearchQuery, columns: str
) -> list[tuple[Any, ...]]:
    """Walk the tiers best first until the page (and one row more) is filled."""
    wanted = query.offset + query.limit + 1
    found: list[tuple[Any, ...]] = []
    for expression in expressions:
        found.extend(_ranked(conn, expression, query, columns, wanted - len(found)))
        if len(found) >= wanted:
            break
    return found[query.offset : wanted]


def _ranked(
    conn: sqlite3.Connection, expression: str, query: SearchQuery, columns: str, count: int
) -> list[tuple[Any, ...]]:
    where, params = filter_clauses(query)
    floor_row = conn.execute(_FLOOR, (expression, RANK_WINDOW - 1)).fetchone()
    floor = int(floor_row[0]) if floor_row else 0
    # Unfiltered, FTS5 can stop at the page; filtered, it ranks the window and the join filters.
    inner_limit = count if not where else -1
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    # Only constants are formatted in; every value is a bound parameter.
    sql = (
        f"SELECT {columns}, h.rank FROM ("  # noqa: S608
        "SELECT rowid AS id, rank FROM entries_fts WHERE entries_fts MATCH ? AND rowid >= ? "
        "ORDER BY rank LIMIT ?) h JOIN entries e ON e.id = h.id "
        f"{clause} ORDER BY h.rank LIMIT ?"
    )
    return conn.execute(sql, [expression, floor, inner_limit, *params, count]).fetchall()


def _snippet(conn: sqlite3.Connection, expression: str, rowid: int) -> str:
    row = conn.execute(_SNIPPET, (expression, rowid)).fetchone()
    return str(row[0] or "") if row else ""
