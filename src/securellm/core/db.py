"""Async database engines: SQLite (aiosqlite) by default, PostgreSQL (asyncpg) when configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from securellm.core.sqlite import SQLITE_PRAGMAS


def async_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs and pick the async driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    """An engine for ``url``; SQLite gets WAL mode, a busy timeout and its folder created."""
    full = async_url(url)
    parsed = make_url(full)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(full, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(full, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (*SQLITE_PRAGMAS, "PRAGMA busy_timeout=30000"):
        cursor.execute(pragma)
    cursor.close()


def sqlite_file(engine: AsyncEngine) -> str | None:
    """The path of ``engine``'s database when it is a SQLite file (not memory, not a server)."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return database
    return None
