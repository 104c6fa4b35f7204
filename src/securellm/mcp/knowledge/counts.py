"""How many entries the knowledge base holds per type and per tag (the dashboard's summary)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from securellm.mcp.knowledge.store import KnowledgeStore

TOP_TAGS = 50


@dataclass(frozen=True)
class Counts:
    total: int
    by_type: list[tuple[str, int]]  # most first, then by name
    by_tag: list[tuple[str, int]]  # the ``TOP_TAGS`` most used


def counts(store: KnowledgeStore, top_tags: int = TOP_TAGS) -> Counts:
    """Entries per type and per tag, read through the store's own connection and lock."""

    def run(conn: sqlite3.Connection) -> Counts:
        total = int(conn.execute("SELECT count(*) FROM entries").fetchone()[0])
        types = conn.execute(
            "SELECT type, count(*) AS n FROM entries GROUP BY type ORDER BY n DESC, type"
        ).fetchall()
        tags = conn.execute(
            "SELECT tag, count(*) AS n FROM entry_tags GROUP BY tag ORDER BY n DESC, tag LIMIT ?",
            (top_tags,),
        ).fetchall()
        return Counts(
            total=total,
            by_type=[(str(t), int(n)) for t, n in types],
            by_tag=[(str(t), int(n)) for t, n in tags],
        )

    return store.run(run)
