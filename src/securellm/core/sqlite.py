"""The standard library's sqlite3, the way every part of securellm uses it.

Standard library only, so the MCP server and offload can use it without loading SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

# WAL (readers never block the writer) and no fsync on every commit.
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")


def connect_sqlite(path: str, *, timeout_s: float = 30.0) -> sqlite3.Connection:
    """A connection in autocommit mode, usable from one thread at a time (whichever thread
    that is), with :data:`SQLITE_PRAGMAS` applied."""
    conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (take the write lock first, so a check and its write stay atomic
    across processes), then ``COMMIT``, or ``ROLLBACK`` on any error, a failed commit too."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def is_locked(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means another connection holds the lock (``SQLITE_BUSY``/``LOCKED``)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
