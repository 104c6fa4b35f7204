"""SQLite knowledge store: sessions, entries, FTS5 search with bm25 ranking.

One connection per process, guarded by a lock; every method is blocking and meant to run
in a worker thread. WAL mode and a busy timeout let several agents (processes) share one
file. SQLite failures become :class:`KnowledgeError`; nothing here crashes the server.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson

from securellm.core.sqlite import is_locked, write_transaction
from securellm.mcp.errors import InvalidInputError, KnowledgeError, NotFoundError
from securellm.mcp.knowledge.keyword import keyword_search
from securellm.mcp.knowledge.links import index_links, reindex_links
from securellm.mcp.knowledge.models import Entry, EntryList, SearchHit, SearchPage, Session
from securellm.mcp.knowledge.schema import LINKS_SINCE, migrate
from securellm.mcp.knowledge.search import SearchQuery, build_search_sql
from securellm.mcp.knowledge.vectors import ensure_vector_schema

_T = TypeVar("_T")
_ENTRY_COLUMNS = (
    "e.id, e.type, e.title, e.content, e.tags, e.metadata, e.session_id, e.project, "
    "e.created_at, e.updated_at"
)
_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")

__all__ = ["KnowledgeStore", "SearchQuery"]


def now_iso() -> str:
    """UTC timestamps in one fixed format, so text order is time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class NewEntry:
    """What ``knowledge_save`` stores."""

    type: str
    content: str
    title: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] | None = None
    session_id: str | None = None
    project: str | None = None


class KnowledgeStore:
    """The knowledge base file. Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        # Called inside each save's and update's transaction with (conn, id, content).
        self.write_hooks: list[Callable[[sqlite3.Connection, int, str], None]] = [index_links]
        # Called after a save, update or delete commits, with ("saved" | "deleted", id).
        self.change_listeners: list[Callable[[str, int], None]] = []

    # -- lifecycle -----------------------------------------------------------------
    def open(self) -> None:
        """Create the file and folders if needed, switch to WAL, run migrations."""
        if self._conn is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_ms / 1000,
                check_same_thread=False,
                isolation_level=None,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            before = int(conn.execute("PRAGMA user_version").fetchone()[0])
            migrate(conn)
            if 0 < before < LINKS_SINCE:
                reindex_links(conn)
            ensure_vector_schema(conn)
        except (sqlite3.Error, OSError) as exc:
            raise KnowledgeError(f"cannot open the knowledge base at {self.path}: {exc}") from None
        self._conn = conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def journal_mode(self) -> str:
        return str(self._call(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]))

    # -- plumbing ------------------------------------------------------------------
    def run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """``fn(conn)`` under the store's lock, SQLite errors as :class:`KnowledgeError`
        (for the modules that extend the store: files, links, sync)."""
        return self._call(fn)

    def _changed(self, kind: str, entry_id: int) -> None:
        for listener in self.change_listeners:
            listener(kind, entry_id)

    def _call(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            if self._conn is None:
                self.open()
            assert self._conn is not None
            try:
                return fn(self._conn)
            except sqlite3.OperationalError as exc:
                if is_locked(exc):
                    raise KnowledgeError(
                        "the knowledge base is locked by another writer; try again"
                    ) from None
                raise KnowledgeError(f"knowledge base error: {exc}") from None
            except sqlite3.Error as exc:
                raise KnowledgeError(f"knowledge base error: {exc}") from None

    def call(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``fn`` on the connection under the store's lock (the vector index uses it)."""
        return self._call(fn)

    # -- sessions ------------------------------------------------------------------
    def start_session(
        self, agent: str, workspace: str | None = None, project: str | None = None
    ) -> Session:
        session_id = uuid.uuid4().hex
        started = now_iso()

        def run(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.execute(
                    "INSERT INTO sessions (id, agent, workspace, project, started_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (session_id, agent, workspace, project, started),
                )

        self._call(run)
        return Session(
            id=session_id, agent=agent, workspace=workspace, project=project, started_at=started
        )

    def end_session(self, session_id: str, summary: str | None = None) -> Session:
        _check_session_id(session_id)

        def run(conn: sqlite3.Connection) -> int:
            with write_transaction(conn):
                cur = conn.execute(
                    "UPDATE sessions SET ended_at = ?, summary = coalesce(?, summary) "
                    "WHERE id = ? AND ended_at IS NULL",
                    (now_iso(), summary, session_id),
                )
                return cur.rowcount

        if self._call(run) == 0 and self.get_session(session_id).ended_at is not None:
            raise KnowledgeError(f"session {session_id} has already ended")
        return self.get_session(session_id)

    def get_session(self, session_id: str) -> Session:
        _check_session_id(session_id)

        def run(conn: sqlite3.Connection) -> sqlite3.Row | None:
            conn.row_factory = sqlite3.Row
            try:
                row: sqlite3.Row | None = conn.execute(
                    "SELECT s.*, (SELECT count(*) FROM entries WHERE session_id = s.id) AS n "
                    "FROM sessions s WHERE s.id = ?",
                    (session_id,),
                ).fetchone()
                return row
            finally:
                conn.row_factory = None

        row = self._call(run)
        if row is None:
            raise NotFoundError(f"session {session_id} does not exist")
        return Session(
            id=row["id"],
            agent=row["agent"],
            workspace=row["workspace"],
            project=row["project"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            summary=row["summary"],
            entry_count=row["n"],
        )

    # -- entries -------------------------------------------------------------------
    def save(self, new: NewEntry) -> Entry:
        if new.session_id is not None:
            _check_session_id(new.session_id)
        tags = _normalise_tags(new.tags)
        stamp = now_iso()

        def run(conn: sqlite3.Connection) -> int:
            with write_transaction(conn):
                project = new.project
                if new.session_id is not None:
                    row = conn.execute(
                        "SELECT project FROM sessions WHERE id = ?", (new.session_id,)
                    ).fetchone()
                    if row is None:
                        raise NotFoundError(f"session {new.session_id} does not exist")
                    project = project or row[0]
                cur = conn.execute(
                    "INSERT INTO entries (session_id, type, title, content, tags, metadata, "
                    "project, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        new.session_id,
                        new.type,
                        new.title,
                        new.content,
                        _json(tags),
                        _json(new.metadata or {}),
                        project,
                        stamp,
                        stamp,
                    ),
                )
                entry_id = int(cur.lastrowid or 0)
                _write_tags(conn, entry_id, tags)
                for hook in self.write_hooks:
                    hook(conn, entry_id, new.content)
                return entry_id

        entry_id = self._call(run)
        self._changed("saved", entry_id)
        return self.get(entry_id)

    def get(self, entry_id: int) -> Entry:
        row = self._call(
            lambda c: c.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries e WHERE e.id = ?",  # noqa: S608
                (entry_id,),
            ).fetchone()
        )
        if row is None:
            raise NotFoundError(f"entry {entry_id} does not exist")
        entry = _entry_or_none(row)
        if entry is None:
            raise KnowledgeError(f"entry {entry_id} is corrupt and cannot be read")
        return entry

    def get_many(self, entry_ids: Sequence[int]) -> dict[int, Entry]:
        """The readable entries among ``entry_ids`` (missing and corrupt ones left out)."""
        ids = list(entry_ids)[:10_000]
        marks = ", ".join("?" for _ in ids)
        rows = self._call(
            lambda c: c.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries e WHERE e.id IN ({marks})",  # noqa: S608
                ids,
            ).fetchall()
        )
        entries = (_entry_or_none(row) for row in rows)
        return {entry.id: entry for entry in entries if entry is not None}

    def update(self, entry_id: int, changes: dict[str, Any]) -> Entry:
        current = self.get(entry_id)
        merged = current.model_dump() | {k: v for k, v in changes.items() if v is not None}
        tags = _normalise_tags(merged["tags"])

        def run(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.execute(
                    "UPDATE entries SET type = ?, title = ?, content = ?, tags = ?, metadata = ?, "
                    "updated_at = ? WHERE id = ?",
                    (
                        merged["type"],
                        merged["title"],
                        merged["content"],
                        _json(tags),
                        _json(merged["metadata"]),
                        now_iso(),
                        entry_id,
                    ),
                )
                conn.execute("DELETE FROM entry_tags WHERE entry_id = ?", (entry_id,))
                _write_tags(conn, entry_id, tags)
                for hook in self.write_hooks:
                    hook(conn, entry_id, merged["content"])

        self._call(run)
        self._changed("saved", entry_id)
        return self.get(entry_id)

    def delete(self, entry_id: int) -> bool:
        def run(conn: sqlite3.Connection) -> int:
            with write_transaction(conn):
                return conn.execute("DELETE FROM entries WHERE id = ?", (entry_id,)).rowcount

        deleted = self._call(run) > 0
        if deleted:
            self._changed("deleted", entry_id)
        return deleted

    def recent(
        self,
        *,
        limit: int,
        offset: int = 0,
        session_id: str | None = None,
        project: str | None = None,
        type: str | None = None,
    ) -> EntryList:
        query = SearchQuery(
            text=None,
            limit=limit,
            offset=offset,
            session_id=session_id,
            project=project,
            types=(type,) if type else (),
        )
        page = self.search(query)
        return EntryList(
            entries=[hit.entry for hit in page.hits],
            next_offset=page.next_offset,
            corrupt_skipped=page.corrupt_skipped,
        )

    def search(self, query: SearchQuery) -> SearchPage:
        if query.session_id is not None:
            _check_session_id(query.session_id)
        mode: Literal["all", "any"] | None = None
        if query.text is None:
            sql, params = build_search_sql(query, _ENTRY_COLUMNS)
            rows = self._call(lambda c: c.execute(sql, params).fetchall())
        else:
            rows, mode = self._call(lambda c: keyword_search(c, query, _ENTRY_COLUMNS))
        more = len(rows) > query.limit
        hits: list[SearchHit] = []
        corrupt = 0
        for row in rows[: query.limit]:
            entry = _entry_or_none(row[:10])
            if entry is None:
                corrupt += 1
                continue
            hits.append(SearchHit(entry=entry, score=float(row[10]), snippet=str(row[11] or "")))
        return SearchPage(
            hits=hits,
            next_offset=query.offset + query.limit if more else None,
            corrupt_skipped=corrupt,
            terms=mode,
        )

    def count(self) -> int:
        return int(self._call(lambda c: c.execute("SELECT count(*) FROM entries").fetchone()[0]))


def _check_session_id(session_id: str) -> None:
    if not _SESSION_ID.match(session_id):
        raise InvalidInputError(
            "session_id must be the 32-character hex id from knowledge_session_start"
        )


def _normalise_tags(tags: Sequence[str]) -> list[str]:
    return sorted({tag.strip().lower() for tag in tags if tag.strip()})


def _write_tags(conn: sqlite3.Connection, entry_id: int, tags: list[str]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO entry_tags (tag, entry_id) VALUES (?, ?)",
        [(tag, entry_id) for tag in tags],
    )


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _entry_or_none(row: Sequence[Any]) -> Entry | None:
    """Decode a row; a row that fails (bad JSON, unknown type) is corrupt, not a crash."""
    try:
        tags = orjson.loads(row[4])
        metadata = orjson.loads(row[5])
        return Entry(
            id=row[0],
            type=row[1],
            title=row[2],
            content=row[3],
            tags=tags,
            metadata=metadata,
            session_id=row[6],
            project=row[7],
            created_at=row[8],
            updated_at=row[9],
        )
    except (ValueError, TypeError):
        return None
