"""Keyword search over the FTS5 index: tiers of matched terms, bm25 within a tier, bounded work.

Three things keep a search fast on a large base:

- bm25 is computed over the index alone and only the page's rowids are joined to
  ``entries`` (the v2 statement joined and built a snippet for every match, then sorted);
- snippets are computed for the page only;
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

RANK_WINDOW = 1000
# Column weights for bm25: a word in the title counts most, then tags, then the body.
_BM25 = "bm25(entries_fts, 4.0, 1.0, 2.0)"
_SNIPPET = (
    "SELECT snippet(entries_fts, 1, '[', ']', '…', 16) FROM entries_fts "
    "WHERE entries_fts MATCH ? AND rowid = ?"
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
    # The row past the page only tells that a page follows: it needs no snippet.
    page = [
        (*row, _snippet(conn, highlight, int(row[0])) if n < query.limit else "")
        for n, row in enumerate(rows)
    ]
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
    """One tier, best first, ranked over at most :data:`RANK_WINDOW` matches."""
    where, params = filter_clauses(query)
    floor = _floor(conn, expression, "", [])
    if where and floor:
        # Many matches: the window is the newest that pass the filters (a set of ids built
        # from them; ``+`` keeps SQLite from probing FTS5 once per id), so a project's older
        # entries are not crowded out by other projects' newer ones.
        subset = f" AND +rowid IN (SELECT e.id FROM entries e WHERE {' AND '.join(where)})"  # noqa: S608
        floor = _floor(conn, expression, subset, params)
    elif where:
        # Few matches: checking each against its entry row is cheaper than building the set.
        return _ranked_joined(conn, expression, where, params, columns, count)
    else:
        subset = ""
    # Only constants are formatted in; every value is a bound parameter.
    sql = (
        f"SELECT {columns}, h.rank FROM ("  # noqa: S608
        f"SELECT rowid AS id, {_BM25} AS rank FROM entries_fts "
        f"WHERE entries_fts MATCH ? AND rowid >= ?{subset} ORDER BY rank LIMIT ?"
        ") h JOIN entries e ON e.id = h.id ORDER BY h.rank"
    )
    return conn.execute(sql, [expression, floor, *params, count]).fetchall()


def _floor(conn: sqlite3.Connection, expression: str, subset: str, params: list[object]) -> int:
    """The lowest rowid of the newest RANK_WINDOW matches; 0 when there are fewer."""
    sql = (
        f"SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?{subset} "  # noqa: S608
        "ORDER BY rowid DESC LIMIT 1 OFFSET ?"
    )
    row = conn.execute(sql, [expression, *params, RANK_WINDOW - 1]).fetchone()
    return int(row[0]) if row else 0


def _ranked_joined(
    conn: sqlite3.Connection,
    expression: str,
    where: list[str],
    params: list[object],
    columns: str,
    count: int,
) -> list[tuple[Any, ...]]:
    sql = (
        f"SELECT {columns}, {_BM25} AS rank FROM entries_fts "  # noqa: S608
        "JOIN entries e ON e.id = entries_fts.rowid WHERE entries_fts MATCH ? AND "
        + " AND ".join(where)
        + " ORDER BY rank LIMIT ?"
    )
    return conn.execute(sql, [expression, *params, count]).fetchall()


def _snippet(conn: sqlite3.Connection, expression: str, rowid: int) -> str:
    row = conn.execute(_SNIPPET, (expression, rowid)).fetchone()
    return str(row[0] or "") if row else ""
