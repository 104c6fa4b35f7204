"""Virtual keys: created once, stored hashed, limited to models, revocable, expiring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from securellm.core.db import create_engine
from securellm.core.errors import UnprocessableRequest
from securellm.gateway.keys import (
    KEY_PREFIX,
    AmbiguousKey,
    KeyNameTaken,
    KeyRevoked,
    KeyStore,
    KeyUpdate,
    NewKey,
    hash_key,
)
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
    soon = datetime.now(UTC) + timedelta(minutes=1)
    record, _ = await store.create(NewKey(name="soon", expires_at=soon))
    assert not record.is_expired()
    assert record.is_expired(now=soon + timedelta(seconds=1))


async def test_a_key_cannot_be_created_already_expired(store: KeyStore) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    with pytest.raises(UnprocessableRequest, match="already past"):
        await store.create(NewKey(name="old", expires_at=past))
    assert await store.list() == []


async def test_a_second_live_key_with_the_same_name_is_refused(store: KeyStore) -> None:
    first, _ = await store.create(NewKey(name="laptop"))
    with pytest.raises(KeyNameTaken, match=first.id) as caught:
        await store.create(NewKey(name="laptop"))
    assert caught.value.status == 409
    assert [k.id for k in await store.list()] == [first.id]


async def test_two_creates_of_one_name_racing_leave_one_key(store: KeyStore) -> None:
    results = await asyncio.gather(
        *(store.create(NewKey(name="race")) for _ in range(4)), return_exceptions=True
    )
    assert sum(isinstance(r, KeyNameTaken) for r in results) == 3
    assert len(await store.list()) == 1


async def test_a_revoked_keys_name_may_be_used_again(store: KeyStore) -> None:
    await store.create(NewKey(name="laptop"))
    await store.revoke("laptop")
    renewed, _ = await store.create(NewKey(name="laptop"))
    assert (await store.get("laptop")).id == renewed.id


async def test_a_name_that_looks_like_an_id_is_refused(store: KeyStore) -> None:
    with pytest.raises(UnprocessableRequest, match="looks like a key id"):
        await store.create(NewKey(name="key_0123456789abcdef"))


async def test_update_changes_limits_and_none_clears_them(store: KeyStore) -> None:
    record, plaintext = await store.create(NewKey(name="ci", rpm=5, budget_usd=2.0))
    updated = await store.update("ci", KeyUpdate(rpm=None, tpm=900, budget_usd=3.0))
    found = await store.by_plaintext(plaintext)
    assert found == updated
    assert (updated.id, updated.rpm, updated.tpm, updated.budget_usd) == (record.id, None, 900, 3.0)
    assert updated.budget_period == "total"


async def test_clearing_the_budget_clears_its_period(store: KeyStore) -> None:
    await store.create(NewKey(name="ci", budget_usd=2.0, budget_period="day"))
    updated = await store.update("ci", KeyUpdate(budget_usd=None))
    assert (updated.budget_usd, updated.budget_period) == (None, None)


async def test_update_refuses_an_expiry_in_the_past(store: KeyStore) -> None:
    await store.create(NewKey(name="ci"))
    past = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(UnprocessableRequest, match="already past"):
        await store.update("ci", KeyUpdate(expires_at=past))


async def test_a_revoked_key_cannot_be_updated_or_regenerated(store: KeyStore) -> None:
    record, _ = await store.create(NewKey(name="ci"))
    await store.revoke(record.id)
    with pytest.raises(KeyRevoked):
        await store.update(record.id, KeyUpdate(rpm=1))
    with pytest.raises(KeyRevoked):
        await store.regenerate(record.id)


async def test_regenerate_replaces_the_secret_and_keeps_the_key(store: KeyStore) -> None:
    record, old = await store.create(NewKey(name="ci", rpm=7))
    renewed, new = await store.regenerate("ci")
    assert await store.by_plaintext(old) is None
    found = await store.by_plaintext(new)
    assert found is not None and (found.id, found.rpm) == (record.id, 7)
    assert new != old and renewed.prefix == new[: len(KEY_PREFIX) + 4]


async def duplicate(store: KeyStore, name: str) -> tuple[str, str]:
    """A second live key named ``name``, as versions before unique names let in."""
    record, plaintext = await store.create(NewKey(name=name + "-tmp"))
    async with store.engine.begin() as conn:
        await conn.execute(
            update(api_keys).where(api_keys.c.id == record.id).values(name=name, active_name=None)
        )
    return record.id, plaintext


async def test_an_ambiguous_name_is_refused_with_its_candidates(store: KeyStore) -> None:
    first, _ = await store.create(NewKey(name="laptop"))
    second_id, _ = await duplicate(store, "laptop")
    with pytest.raises(AmbiguousKey) as caught:
        await store.revoke("laptop")
    assert first.id in caught.value.message and second_id in caught.value.message
    assert [k.revoked for k in await store.list()] == [False, False]


async def test_duplicates_from_before_keep_working_and_answer_to_their_ids(
    store: KeyStore,
) -> None:
    await store.create(NewKey(name="laptop"))
    second_id, plaintext = await duplicate(store, "laptop")
    assert await store.by_plaintext(plaintext) is not None
    await store.update(second_id, KeyUpdate(rpm=3))
    revoked = await store.revoke(second_id)
    assert revoked.revoked and (await store.get("laptop")).id != second_id
