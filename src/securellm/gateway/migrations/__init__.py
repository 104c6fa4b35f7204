"""Alembic migrations of the gateway's tables, run programmatically at start-up and by the CLI.

The same revisions run on SQLite and PostgreSQL. Several gateways (or workers) starting at
once run them one after the other: on PostgreSQL under an advisory lock, on a SQLite file
under an ``flock`` on ``<file>.migrate.lock`` beside it.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.core.db import sqlite_file

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
    path = sqlite_file(engine)
    if path is None:
        await _upgrade_in_transaction(engine)
        return
    lock = await asyncio.to_thread(os.open, f"{path}.migrate.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        await _upgrade_in_transaction(engine)
    finally:
        os.close(lock)  # releases the lock


async def _upgrade_in_transaction(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({LOCK_ID})"))
        await conn.run_sync(_upgrade)
