"""Alembic migrations of the gateway's tables, run programmatically at start-up and by the CLI.

The same revisions run on SQLite and PostgreSQL. On PostgreSQL an advisory lock makes
several gateways starting at once run them one after the other.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

HERE = Path(__file__).parent
LOCK_ID = 0x5EC11A


def _upgrade(connection: Connection) -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # no INFO chatter at every start
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database at ``engine`` to the newest schema (idempotent)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({LOCK_ID})"))
        await conn.run_sync(_upgrade)
