"""Continuing a stored conversation: ``SqlResponseStore.context`` (one recursive query for
the whole chain) beside a baseline that reads the chain one row per query, on SQLite.

    .venv/bin/python benchmarks/responses_store.py [--turns 10,50,200] [--repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from typing import Any

import orjson
from sqlalchemy import and_, select

from securellm.core.db import create_engine
from securellm.gateway.migrations import upgrade
from securellm.gateway.responses_store import SqlResponseStore
from securellm.gateway.tables import responses

TEXT = "a line of an agent's conversation, about eighty characters long, repeated. " * 4


async def row_by_row(store: SqlResponseStore, key_id: str, response_id: str) -> list[Any]:
    """The baseline: follow ``previous_id`` with one SELECT per turn."""
    items: list[Any] = []
    chain: list[Any] = []
    current: str | None = response_id
    async with store.engine.connect() as conn:
        while current is not None:
            query = select(responses.c.previous_id, responses.c.body, responses.c.input_items)
            query = query.where(and_(responses.c.key_id == key_id, responses.c.id == current))
            row = (await conn.execute(query)).first()
            if row is None:
                break
            chain.append(row)
            current = row.previous_id
    for row in reversed(chain):
        items.extend(orjson.loads(row.input_items))
        items.extend(orjson.loads(row.body)["output"])
    return items


async def chain_of(store: SqlResponseStore, turns: int) -> str:
    previous = None
    for n in range(turns):
        answer = {"type": "message", "role": "assistant", "content": [{"text": TEXT}]}
        response = {"id": f"resp_{turns}_{n}", "output": [answer]}
        await store.save("key", response, [{"role": "user", "content": TEXT}], previous)
        previous = response["id"]
    assert previous is not None
    return previous


async def timed(call: Any, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


async def main(turns: list[int], repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/bench.db")
        await upgrade(engine)
        store = SqlResponseStore(engine)
        print(f"{'turns':>6} {'recursive query ms':>19} {'row by row ms':>14}")
        for count in turns:
            last = await chain_of(store, count)
            ours = await timed(lambda last=last: store.context("key", last), repeat)
            base = await timed(lambda last=last: row_by_row(store, "key", last), repeat)
            assert await store.context("key", last) == await row_by_row(store, "key", last)
            print(f"{count:>6} {ours:>19.2f} {base:>14.2f}")
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", default="10,50,200")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main([int(t) for t in args.turns.split(",")], args.repeat))
