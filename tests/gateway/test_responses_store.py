"""The stored responses of the Responses API, on SQLite and on a real PostgreSQL: chains of
turns, per-key isolation, retention, the size cap and ids no row can have."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from securellm.core.db import create_engine
from securellm.gateway.migrations import upgrade
from securellm.gateway.responses_store import (
    DAY_S,
    ResponseNotFound,
    SqlResponseStore,
    purge_periodically,
)
from securellm.providers.base import JSON
from support.postgres_server import postgres_server


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return f"sqlite:///{tmp_path}/gateway.db"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(database_url: str, clock: Clock) -> AsyncIterator[SqlResponseStore]:
    engine = create_engine(database_url)
    await upgrade(engine)
    yield SqlResponseStore(engine, retention_days=30, max_bytes=4096, clock=clock)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DELETE FROM responses")
    await engine.dispose()


def turn(n: int) -> tuple[JSON, list[JSON]]:
    answer = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": f"a{n}"}],
    }
    return {"id": f"resp_{n}", "object": "response", "output": [answer]}, [
        {"type": "message", "role": "user", "content": f"q{n}"}
    ]


async def save_chain(store: SqlResponseStore, key_id: str, turns: int) -> None:
    previous = None
    for n in range(1, turns + 1):
        response, items = turn(n)
        await store.save(key_id, response, items, previous)
        previous = response["id"]


async def test_context_is_every_earlier_turn_oldest_first(store: SqlResponseStore) -> None:
    await save_chain(store, "key_a", 3)
    texts = [
        item["content"] if item["role"] == "user" else item["content"][0]["text"]
        for item in await store.context("key_a", "resp_3")
    ]
    assert texts == ["q1", "a1", "q2", "a2", "q3", "a3"]


async def test_a_stored_response_and_its_input_items_read_back(store: SqlResponseStore) -> None:
    await save_chain(store, "key_a", 1)
    response, items = turn(1)
    assert await store.get("key_a", "resp_1") == response
    assert await store.input_items("key_a", "resp_1") == items


async def test_another_key_cannot_read_continue_or_delete(store: SqlResponseStore) -> None:
    await save_chain(store, "key_a", 2)
    assert await store.get("key_b", "resp_2") is None
    assert await store.input_items("key_b", "resp_2") is None
    assert await store.delete("key_b", "resp_2") is False
    with pytest.raises(ResponseNotFound):
        await store.context("key_b", "resp_2")
    assert await store.get("key_a", "resp_2") is not None


async def test_the_master_key_is_a_key_of_its_own(store: SqlResponseStore) -> None:
    await save_chain(store, "master", 1)
    assert await store.get("key_a", "resp_1") is None
    assert await store.get("master", "resp_1") is not None


async def test_unknown_previous_response_is_a_404_naming_the_parameter(
    store: SqlResponseStore,
) -> None:
    with pytest.raises(ResponseNotFound) as raised:
        await store.context("key_a", "resp_missing")
    assert (raised.value.status, raised.value.param) == (404, "previous_response_id")


async def test_deleted_response_is_gone(store: SqlResponseStore) -> None:
    await save_chain(store, "key_a", 1)
    assert await store.delete("key_a", "resp_1") is True
    assert await store.get("key_a", "resp_1") is None
    assert await store.delete("key_a", "resp_1") is False


async def test_expired_responses_are_unreadable_then_purged(
    store: SqlResponseStore, clock: Clock
) -> None:
    await save_chain(store, "key_a", 2)
    clock.now += 31 * DAY_S
    assert await store.get("key_a", "resp_2") is None
    assert await store.purge_expired() == 2
    clock.now -= 31 * DAY_S
    assert await store.get("key_a", "resp_2") is None


async def test_purge_keeps_responses_within_retention(
    store: SqlResponseStore, clock: Clock
) -> None:
    await save_chain(store, "key_a", 1)
    clock.now += 29 * DAY_S
    assert await store.purge_expired() == 0
    assert await store.get("key_a", "resp_1") is not None


async def test_too_large_response_is_not_stored_and_continuing_it_says_why(
    store: SqlResponseStore,
) -> None:
    big = {"id": "resp_big", "output": [{"type": "message", "content": "x" * 5000}]}
    await store.save("key_a", big, [], None)
    assert await store.get("key_a", "resp_big") is None
    with pytest.raises(ResponseNotFound, match="too large"):
        await store.context("key_a", "resp_big")


async def test_continuing_past_a_turn_too_large_to_store_names_that_turn(
    store: SqlResponseStore,
) -> None:
    big = {"id": "resp_big", "output": [{"type": "message", "content": "x" * 5000}]}
    await store.save("key_a", big, [], None)
    await store.save("key_a", {"id": "resp_next", "output": []}, [], "resp_big")
    with pytest.raises(ResponseNotFound, match="earlier turn resp_big was too large"):
        await store.context("key_a", "resp_next")


@pytest.mark.parametrize("bad_id", ["", "x" * 129, "resp_\x00nul", "resp\nline"])
async def test_ids_no_row_can_have_are_unknown_not_errors(
    store: SqlResponseStore, bad_id: str
) -> None:
    assert await store.get("key_a", bad_id) is None
    assert await store.input_items("key_a", bad_id) is None
    assert await store.delete("key_a", bad_id) is False
    with pytest.raises(ResponseNotFound):
        await store.context("key_a", bad_id)


async def test_saving_the_same_id_again_replaces_it(store: SqlResponseStore) -> None:
    await save_chain(store, "key_a", 1)
    await store.save("key_a", {"id": "resp_1", "output": []}, [], None)
    assert await store.get("key_a", "resp_1") == {"id": "resp_1", "output": []}


class CountingPurges:
    """A store whose purges are counted; the first one fails, the third stops the loop."""

    def __init__(self) -> None:
        self.calls = 0
        self.third = asyncio.Event()

    async def purge_expired(self) -> int:
        self.calls += 1
        if self.calls == 1:
            raise OSError("database unreachable")
        if self.calls == 3:
            self.third.set()
        return 1


async def test_periodic_purge_runs_again_after_a_failed_one() -> None:
    store = CountingPurges()
    task = asyncio.get_running_loop().create_task(
        purge_periodically(store, every_s=0)  # type: ignore[arg-type]
    )
    await store.third.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert store.calls >= 3


async def test_saves_made_at_once_are_all_readable_when_each_returns(
    store: SqlResponseStore,
) -> None:
    async def save_then_read(n: int) -> JSON | None:
        response, items = turn(n)
        await store.save("key_a", response, items, None)
        return await store.get("key_a", response["id"])

    found = await asyncio.gather(*(save_then_read(n) for n in range(40)))
    assert [r["id"] if r else None for r in found] == [turn(n)[0]["id"] for n in range(40)]


async def test_the_same_id_saved_twice_at_once_keeps_the_later_save(
    store: SqlResponseStore,
) -> None:
    first, items = turn(1)
    later = {**first, "output": [{"type": "message", "role": "assistant", "content": []}]}
    await asyncio.gather(
        store.save("key_a", first, items, None), store.save("key_a", later, items, None)
    )
    assert await store.get("key_a", first["id"]) == later


async def test_a_failed_write_fails_every_save_waiting_for_it(
    store: SqlResponseStore,
) -> None:
    await store.engine.dispose()
    store.engine = create_engine("sqlite+aiosqlite:////nonexistent/dir/x.db")
    saves = [store.save("key_a", *turn(n), None) for n in range(3)]
    results = await asyncio.gather(*saves, return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
