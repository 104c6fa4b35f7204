"""``[[links]]`` between entries: parsed from content, stored as written, resolved when read.

A link names its target by title (``[[Deploy notes]]``), by this knowledge base's number
(``[[42]]``) or by the entry's stable id (``[[3f2a…]]``, 32 hex digits, the ``id`` of an
exported file). ``[[target|label]]`` shows ``label``. Links are stored as their target
text, not as a row id, so a link to an entry that does not exist yet is kept and counts as
soon as an entry with that title (or id) appears, and renaming a title re-points links to
whichever entry holds the title now. Titles match ignoring surrounding spaces and ASCII
case (what SQLite's ``lower()`` folds, so the index and the lookup agree).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from securellm.core.sqlite import write_transaction

_LINK = re.compile(r"\[\[([^\[\]|\n]{1,512})(?:\|[^\[\]\n]*)?\]\]")
_UID = re.compile(r"^[0-9a-f]{32}$")
MAX_LINKS = 256
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, order=True)
class LinkTarget:
    """``kind`` is ``uid``, ``id`` or ``title``; ``target`` is the lookup key."""

    kind: str
    target: str


def title_key(title: str) -> str:
    """The key a title is matched by: surrounding spaces off, ASCII letters lower-cased."""
    return title.strip().translate(_ASCII_LOWER)


def parse_links(content: str) -> list[LinkTarget]:
    """The distinct link targets in ``content``, in order of first appearance."""
    seen: dict[LinkTarget, None] = {}
    for match in _LINK.finditer(content):
        text = match.group(1).strip()
        if not text:
            continue
        lowered = text.lower()
        if _UID.match(lowered):
            link = LinkTarget("uid", lowered)
        elif text.isascii() and text.isdigit() and len(text) <= 18:
            link = LinkTarget("id", str(int(text)))
        else:
            link = LinkTarget("title", title_key(text))
        seen.setdefault(link, None)
        if len(seen) >= MAX_LINKS:
            break
    return list(seen)


def link_texts(content: str) -> list[str]:
    """The targets as written (for an exported file's ``links``)."""
    return list(dict.fromkeys(m.group(1).strip() for m in _LINK.finditer(content)))


def index_links(conn: sqlite3.Connection, entry_id: int, content: str) -> None:
    """Replace ``entry_id``'s stored links with those in ``content`` (inside the caller's
    write transaction)."""
    conn.execute("DELETE FROM entry_links WHERE source_id = ?", (entry_id,))
    conn.executemany(
        "INSERT OR IGNORE INTO entry_links (source_id, kind, target) VALUES (?, ?, ?)",
        [(entry_id, link.kind, link.target) for link in parse_links(content)],
    )


def reindex_links(conn: sqlite3.Connection) -> None:
    """Index every entry's links (a base from before links existed), in one transaction."""
    with write_transaction(conn):
        for entry_id, content in conn.execute("SELECT id, content FROM entries").fetchall():
            index_links(conn, int(entry_id), str(content))


def resolve(conn: sqlite3.Connection, links: Iterable[LinkTarget]) -> dict[LinkTarget, int]:
    """Each link that names an existing entry, with that entry's number (a title several
    entries share resolves to the oldest of them)."""
    found: dict[LinkTarget, int] = {}
    for link in set(links):
        if link.kind == "uid":
            sql = "SELECT entry_id FROM entry_uids WHERE uid = ?"
        elif link.kind == "id":
            sql = "SELECT id FROM entries WHERE id = ?"
        else:
            sql = "SELECT min(id) FROM entries WHERE lower(trim(title)) = ?"
        row = conn.execute(sql, (link.target,)).fetchone()
        if row is not None and row[0] is not None:
            found[link] = int(row[0])
    return found


def outgoing(conn: sqlite3.Connection, entry_ids: Iterable[int]) -> dict[int, list[LinkTarget]]:
    """The stored links of each entry in ``entry_ids``."""
    result: dict[int, list[LinkTarget]] = {}
    for chunk in _chunks(list(entry_ids)):
        marks = ", ".join("?" for _ in chunk)
        rows = conn.execute(
            f"SELECT source_id, kind, target FROM entry_links WHERE source_id IN ({marks}) "  # noqa: S608
            "ORDER BY source_id, kind, target",
            chunk,
        ).fetchall()
        for source, kind, target in rows:
            result.setdefault(int(source), []).append(LinkTarget(kind, target))
    return result


def incoming(conn: sqlite3.Connection, entry_id: int) -> list[int]:
    """The entries whose links resolve to ``entry_id`` (by its number, id or title)."""
    row = conn.execute(
        "SELECT e.title, u.uid FROM entries e LEFT JOIN entry_uids u ON u.entry_id = e.id "
        "WHERE e.id = ?",
        (entry_id,),
    ).fetchone()
    if row is None:
        return []
    keys = [("id", str(entry_id))]
    if row[1]:
        keys.append(("uid", row[1]))
    if row[0] and row[0].strip():
        key = title_key(row[0])
        owner = conn.execute(
            "SELECT min(id) FROM entries WHERE lower(trim(title)) = ?", (key,)
        ).fetchone()[0]
        if owner == entry_id:
            keys.append(("title", key))
    sources: set[int] = set()
    for kind, target in keys:
        for (source,) in conn.execute(
            "SELECT source_id FROM entry_links WHERE kind = ? AND target = ?", (kind, target)
        ):
            sources.add(int(source))
    sources.discard(entry_id)
    return sorted(sources)


def _chunks(values: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
