"""The same schema on a real PostgreSQL: migrations, shared keys, budgets and the audit index."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx2 as httpx
import pytest
from sqlalchemy import text

from securellm.core.db import create_engine
from securellm.gateway.migrations import upgrade
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory
from support.postgres_server import postgres_server

pytestmark = pytest.mark.postgres
ADMIN = {"authorization": f"Bearer {MASTER}"}
PRICES = {"fake/echo": {"input": 10_000, "output": 10_000}}  # "hello there": $0.04
COST = 0.04
HELLO = {"model": "fake/echo", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def gateway_options(database_url: str) -> dict[str, Any]:
    # The cache is off: a cache hit costs nothing, so spend would not match the 200s.
    return {
        "gateway": {"database_url": database_url, "prices": PRICES},
        "cache": {"enabled": False},
    }


def provider(fake_upstream: tuple[str, FakeOpenAI]) -> list[dict[str, Any]]:
    return [{"name": "fake", "base_url": fake_upstream[0], "api_key": UPSTREAM_KEY}]


async def tables(url: str) -> set[str]:
    engine = create_engine(url)
    await asyncio.gather(upgrade(engine), upgrade(engine), upgrade(engine))
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        names = {r[0] for r in rows}
    await engine.dispose()
    return names


def test_migrations_run_concurrently_and_create_the_schema(database_url: str) -> None:
    names = asyncio.run(tables(database_url))
    assert {"api_keys", "budget_usage", "audit_events", "alembic_version"} <= names


def test_a_key_created_on_one_gateway_works_on_another(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI], database_url: str
) -> None:
    options = gateway_options(database_url)
    with (
        gateway_for(provider(fake_upstream), **options) as first,
        gateway_for(provider(fake_upstream), **options) as second,
    ):
        created = httpx.post(f"{first}/admin/keys", json={"name": "shared"}, headers=ADMIN)
        headers = {"authorization": f"Bearer {created.json()['key']}"}
        reply = httpx.post(f"{second}/v1/chat/completions", json=HELLO, headers=headers)
    assert reply.status_code == 200


async def spend_burst(bases: list[str], key: str, count: int) -> list[int]:
    headers = {"authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session:

        async def one(i: int) -> int:
            url = f"{bases[i % 2]}/v1/chat/completions"
            async with session.post(url, json={**HELLO, "max_tokens": 4}, headers=headers) as r:
                await r.read()
                return r.status

        return await asyncio.gather(*(one(i) for i in range(count)))


def settled(base: str, key_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        body = httpx.get(f"{base}/admin/spend", params={"key": key_id}, headers=ADMIN).json()
        row: dict[str, Any] = body["budgets"][0]
        if row["reserved_usd"] < 1e-9 or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


def test_two_gateways_share_one_budget_and_overspend_less_than_one_request(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI], database_url: str
) -> None:
    options = gateway_options(database_url)
    with (
        gateway_for(provider(fake_upstream), **options) as first,
        gateway_for(provider(fake_upstream), **options) as second,
    ):
        spec = {"name": "budget", "budget_usd": 0.3, "period": "day"}
        created = httpx.post(f"{first}/admin/keys", json=spec, headers=ADMIN).json()
        statuses = asyncio.run(spend_burst([first, second], created["key"], 60))
        row = settled(first, created["id"])
    assert set(statuses) <= {200, 429}
    assert row["spent_usd"] == pytest.approx(statuses.count(200) * COST)
    assert row["spent_usd"] < 0.3 + COST
    assert statuses.count(200) >= 1


def test_audit_index_lives_in_postgres(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI], database_url: str
) -> None:
    with gateway_for(provider(fake_upstream), **gateway_options(database_url)) as base:
        created = httpx.post(f"{base}/admin/keys", json={"name": "indexed"}, headers=ADMIN).json()
        headers = {"authorization": f"Bearer {created['key']}"}
        request_id = httpx.post(f"{base}/v1/chat/completions", json=HELLO, headers=headers).headers[
            "x-request-id"
        ]
        deadline = time.monotonic() + 10
        while True:
            rows = httpx.get(
                f"{base}/admin/audit", params={"key": created["id"]}, headers=ADMIN
            ).json()["data"]
            if rows or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert [(r["request_id"], r["cost_usd"]) for r in rows] == [(request_id, COST)]
