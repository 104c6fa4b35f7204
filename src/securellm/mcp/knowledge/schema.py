"""Schema migrations, tracked with ``PRAGMA user_version``."""

from __future__ import annotations

import sqlite3

from securellm.core.sqlite import write_transaction

_V1 = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    workspace TEXT,
    project TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    summary TEXT
);
CREATE TABLE entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT REFERENCES sessions(id) ON DELETE SET NULL,
    type TEXT NOT NULL,
    title TEXT,
    content TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    project TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX entries_created ON entries(created_at);
CREATE INDEX entries_session ON entries(session_id, created_at);
CREATE INDEX entries_project ON entries(project, created_at);
CREATE TABLE entry_tags (
    tag TEXT NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    PRIMARY KEY (tag, entry_id)
) WITHOUT ROWID;
CREATE INDEX entry_tags_entry ON entry_tags(entry_id);
CREATE VIRTUAL TABLE entries_fts USING fts5(
    title, content, tags,
    content='entries', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts(rowid, title, content, tags)
    VALUES (new.id, coalesce(new.title, ''), new.content, new.tags);
END;
CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts(entries_fts, rowid, title, content, tags)
    VALUES ('delete', old.id, coalesce(old.title, ''), old.content, old.tags);
END;
CREATE TRIGGER entries_au AFTER UPDATE ON entries BEGIN
    INSERT INTO entries_fts(entries_fts, rowid, title, content, tags)
    VALUES ('delete', old.id, coalesce(old.title, ''), old.content, old.tags);
    INSERT INTO entries_fts(rowid, title, content, tags)
    VALUES (new.id, coalesce(new.title, ''), new.content, new.tags);
END;
"""

_V2 = """
CREATE INDEX sessions_started ON sessions(started_at);
CREATE INDEX entries_type ON entries(type, created_at);
"""

# v3: stemmed search. Porter over unicode61 makes "evicting" find "evicts" and "retries"
# find "retried"; prefix indexes for 2 and 3 characters make "ev*" and "evi*" lookups instead
# of merges over every word that starts so. The index is rebuilt once from the entries table,
# which keeps every entry.
_FTS_TRIGGERS = _V1[_V1.index("CREATE TRIGGER entries_ai") :]
_V3 = (
    """
DROP TRIGGER entries_ai;
DROP TRIGGER entries_ad;
DROP TRIGGER entries_au;
DROP TABLE entries_fts;
CREATE VIRTUAL TABLE entries_fts USING fts5(
    title, content, tags,
    content='entries', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2',
    prefix='2 3'
);
"""
    + _FTS_TRIGGERS
    + """
INSERT INTO entries_fts(entries_fts) VALUES ('rebuild');
"""
)

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`; several processes may race here safely."""
    with write_transaction(conn):
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if current > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"knowledge base schema v{current} is newer than this server (v{SCHEMA_VERSION})"
            )
        for version in range(current, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
    return SCHEMA_VERSION


def _statements(script: str) -> list[str]:
    """Split a migration into statements (``executescript`` would commit our transaction)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return statements
