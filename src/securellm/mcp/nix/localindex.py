"""A SQLite FTS5 index of documents read from local files (options.json, package lists).

Each source (``nixos``, ``home-manager``, ``packages``) is read once and indexed; a later
lookup compares the file's size and modification time with what was indexed and rebuilds
that source when the file changed. Every call opens its own connection (they run in worker
threads), so the index needs no lock of its own beyond SQLite's.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from securellm.mcp.errors import InvalidInputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (source TEXT PRIMARY KEY, path TEXT, mtime_ns INT, size INT);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL, name TEXT NOT NULL, body TEXT, data TEXT
);
CREATE INDEX IF NOT EXISTS items_by_name ON items (source, name);
CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(
    name, body, content = 'items', content_rowid = 'id', tokenize = 'unicode61'
);
"""
_COLUMNS = "items.source, items.name, items.body, items.data"
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_FILE_BYTES = 512 * 1024 * 1024
NAME_WEIGHT = 10.0  # a query word in the option or attribute name outranks one in the text


@dataclass(frozen=True)
class Doc:
    """One indexed document: ``name`` and ``body`` are searched, ``data`` is returned."""

    source: str
    name: str
    body: str
    data: dict[str, object]


def read_json_object(path: Path, want: str) -> dict[str, Any]:
    """The JSON object in ``path``; anything else is refused as not being ``want``."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InvalidInputError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        raise InvalidInputError(f"{path} is not JSON (want {want})") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path} is not {want} (want a JSON object)")
    return data


def match_expression(query: str) -> str:
    """Every word of ``query`` as a quoted prefix term (``"word"*``), all required.

    Dots, dashes and FTS5 operators are separators here, so ``services.nginx`` finds
    ``services.nginx.enable`` and nothing in the query is FTS5 syntax.
    """
    words = _WORD.findall(query.lower())
    if not words:
        raise InvalidInputError("the query has no words to search for")
    return " ".join(f'"{word}"*' for word in words[:16])


class LocalIndex:
    """Documents from files, searchable by name and text."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30.0)
        try:
            conn.executescript(_SCHEMA)
            yield conn
        finally:
            conn.close()

    def is_current(self, source: str, path: Path) -> bool:
        """Whether ``source`` was indexed from ``path`` as it is now."""
        stat = path.stat()
        with self._connect() as conn:
            row = conn.execute(
                "SELECT path, mtime_ns, size FROM files WHERE source = ?", (source,)
            ).fetchone()
        return bool(row == (str(path), stat.st_mtime_ns, stat.st_size))

    def replace(self, source: str, path: Path, docs: Iterable[Doc]) -> int:
        """Index ``docs`` as the whole of ``source``, read from ``path``; returns the count."""
        stat = path.stat()
        with self._connect() as conn, conn:
            conn.execute("DELETE FROM items WHERE source = ?", (source,))
            cursor = conn.executemany(
                "INSERT INTO items (source, name, body, data) VALUES (?, ?, ?, ?)",
                ((d.source, d.name, d.body, orjson.dumps(d.data).decode()) for d in docs),
            )
            count = cursor.rowcount
            conn.execute("INSERT INTO docs (docs) VALUES ('rebuild')")
            conn.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                (source, str(path), stat.st_mtime_ns, stat.st_size),
            )
            return count

    def search(self, query: str, sources: Iterable[str], limit: int) -> list[Doc]:
        """Best first: an exact name, then bm25 with name words weighted up."""
        wanted = list(sources)
        marks = ",".join("?" * len(wanted))
        sql = (
            f"SELECT {_COLUMNS} FROM docs JOIN items ON items.id = docs.rowid "  # noqa: S608 (only "?" marks and constants)
            f"WHERE docs MATCH ? AND items.source IN ({marks}) "
            f"ORDER BY items.name = ? DESC, bm25(docs, {NAME_WEIGHT}, 1.0) LIMIT ?"
        )
        with self._connect() as conn:
            rows = conn.execute(sql, (match_expression(query), *wanted, query, limit)).fetchall()
        return [_doc(row) for row in rows]

    def get(self, source: str, name: str) -> Doc | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT source, name, body, data FROM items WHERE source = ? AND name = ?",
                (source, name),
            ).fetchone()
        return _doc(row) if row else None

    def names_like(self, source: str, prefix: str, limit: int) -> list[str]:
        """Names under ``prefix`` (``services.nginx`` → ``services.nginx.enable``, …)."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT name FROM items WHERE source = ? AND name > ? AND name < ? "
                "ORDER BY name LIMIT ?",
                (source, prefix, prefix + "\U0010ffff", limit),
            ).fetchall()
        return [row[0] for row in rows]


def _doc(row: tuple[str, str, str, str]) -> Doc:
    data = orjson.loads(row[3])
    return Doc(row[0], row[1], row[2], data if isinstance(data, dict) else {})
