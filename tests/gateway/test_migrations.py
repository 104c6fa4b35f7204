"""Revision 0002 on a database an earlier version wrote: float spend becomes exact
nano-USD, and duplicate key names keep working."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.core.db import create_engine
from securellm.gateway.keys import KeyStore, hash_key
from securellm.gateway.migrations import HERE, upgrade
from securellm.gateway.responses_store import SqlResponseStore
from securellm.gateway.spend import BudgetLedger

INSERT_KEY = (
    "INSERT INTO api_keys (id, name, key_hash, prefix, log_content, cache_enabled, revoked,"
    " created_at) VALUES (:id, :name, :hash, 'sk-sl-abcd', false, true, false, :created)"
)


def _to(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _to_0001(connection: Connection) -> None:
    _to(connection, "0001")


async def old_database(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_to_0001)
        for key_id, name in (("key_a", "laptop"), ("key_b", "laptop"), ("key_c", "ci")):
            values = {
                "id": key_id,
                "name": name,
                "hash": hash_key(key_id),
                "created": datetime.now(UTC),
            }
            await conn.execute(text(INSERT_KEY), values)
        await conn.execute(
            text("INSERT INTO budget_usage VALUES ('key_c', 'total', 0.004875, 0.000125, 3)")
        )


async def test_float_spend_becomes_exact_nano_dollars(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/old.db")
    await old_database(engine)
    await upgrade(engine)
    usage = await BudgetLedger(engine).usage("key_c", "total")
    await engine.dispose()
    assert (usage["spent_usd"], usage["reserved_usd"]) == (0.004875, 0.000125)


async def test_duplicate_names_keep_working_and_unique_names_become_unique(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/old.db")
    await old_database(engine)
    await upgrade(engine)
    store = KeyStore(engine)
    found = await store.by_plaintext("key_b")
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, active_name FROM api_keys ORDER BY id"))
        active = dict(rows.all())
    await engine.dispose()
    assert found is not None and found.name == "laptop"
    assert active == {"key_a": None, "key_b": None, "key_c": "ci"}


async def test_processes_migrating_one_sqlite_file_at_once_take_turns(tmp_path: Path) -> None:
    engines = [create_engine(f"sqlite:///{tmp_path}/fresh.db") for _ in range(4)]
    await asyncio.gather(*(upgrade(engine) for engine in engines))
    async with engines[0].connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    for engine in engines:
        await engine.dispose()
    assert version == "0004"


async def test_a_0002_database_gains_stored_responses_and_keeps_its_keys(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/old.db")
    await old_database(engine)
    async with engine.begin() as conn:
        await conn.run_sync(_to, "0002")
    await upgrade(engine)
    store = SqlResponseStore(engine)
    await store.save("key_c", {"id": "resp_1", "output": []}, [], None)
    found = await KeyStore(engine).by_plaintext("key_c")
    stored = await store.get("key_c", "resp_1")
    await engine.dispose()
    assert found is not None and found.name == "ci"
    assert stored == {"id": "resp_1", "output": []}


async def test_keys_from_before_revision_0004_are_not_admin_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/old.db")
    await old_database(engine)
    async with engine.begin() as conn:
        await conn.run_sync(_to, "0003")
    await upgrade(engine)
    found = await KeyStore(engine).by_plaintext("key_c")
    await engine.dispose()
    assert found is not None and found.is_admin is False
