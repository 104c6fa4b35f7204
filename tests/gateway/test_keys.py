"""Virtual keys: created once, stored hashed, limited to models, revocable, expiring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from securellm.core.db import create_engine
from securellm.gateway.keys import KEY_PREFIX, KeyStore, NewKey, hash_key
from securellm.gateway.tables import api_keys


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[KeyStore]:
    engine = create_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    keystore = KeyStore(engine)
    await keystore.create_schema()
    yield keystore
    await engine.dispose()


async def test_created_key_is_returned_once_and_stored_only_as_a_hash(store: KeyStore) -> None:
    record, plaintext = await store.create(NewKey(name="ci"))
    assert plaintext.startswith(KEY_PREFIX)
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(api_keys))).mappings().one()
    assert row["key_hash"] == hash_key(plaintext)
    assert plaintext not in str(dict(row))
    assert record.prefix == plaintext[: len(KEY_PREFIX) + 4]


async def test_lookup_by_plaintext_finds_the_key(store: KeyStore) -> None:
    record, plaintext = await store.create(NewKey(name="ci", models=["local/*"], rpm=5))
    found = await store.by_plaintext(plaintext)
    assert found is not None and found.id == record.id and found.rpm == 5


async def test_revoke_by_name_marks_the_key_revoked(store: KeyStore) -> None:
    _, plaintext = await store.create(NewKey(name="laptop"))
    await store.revoke("laptop")
    found = await store.by_plaintext(plaintext)
    assert found is not None and found.revoked


async def test_model_patterns_allow_only_matching_models(store: KeyStore) -> None:
    record, _ = await store.create(NewKey(name="x", models=["local/*", "fast"]))
    assert record.allows_model("local/gemma-3-270m")
    assert record.allows_model("fast")
    assert not record.allows_model("openai/gpt-4o")


async def test_key_past_its_expiry_is_expired(store: KeyStore) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    _, plaintext = await store.create(NewKey(name="old", expires_at=past))
    found = await store.by_plaintext(plaintext)
    assert found is not None and found.is_expired()
