"""The same schema on a real PostgreSQL: migrations, shared keys, budgets and the audit index."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import aiohttp
import httpx2 as httpx
import pytest
from sqlalchemy import text

from securellm.core.db import create_engine
from securellm.gateway.migrations import upgrade
from securellm.gateway.spend import BudgetLedger, Hold, Refusal
from support.asgi_server import serve_app
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory
from support.postgres_server import postgres_server
from support.verbose_openai import OUTPUT_TOKENS, VerboseOpenAI

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


async def spend_burst(bases: list[str], key: str, count: int, **extra: Any) -> list[int]:
    headers = {"authorization": f"Bearer {key}"}
    body = {"model": "long/long", "messages": [{"role": "user", "content": "go on"}], **extra}
    async with aiohttp.ClientSession() as session:

        async def one(i: int) -> int:
            url = f"{bases[i % 2]}/v1/chat/completions"
            async with session.post(url, json=body, headers=headers) as r:
                await r.read()
                return r.status

        return await asyncio.gather(*(one(i) for i in range(count)))


def settled(base: str, key_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        body = httpx.get(f"{base}/admin/spend", params={"key": key_id}, headers=ADMIN).json()
        row: dict[str, Any] = body["budgets"][0]
        if row["reserved_usd"] == 0 or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


@pytest.fixture(scope="module")
def verbose() -> Iterator[str]:
    with serve_app(VerboseOpenAI().app()) as url:
        yield f"{url}/v1"


# Output at $1 per 1M tokens, prompts free: a 500-token answer costs exactly the $0.0005 it
# reserved, so how many requests a budget admits does not depend on timing.
LONG = {
    "prices": {"long/long": {"input": 0, "output": 1.0}},
    "max_output_tokens": {"long/long": OUTPUT_TOKENS},
}


def long_gateways(
    gateway_for: GatewayFactory, verbose: str, database_url: str
) -> tuple[AbstractContextManager[str], AbstractContextManager[str]]:
    providers = [{"name": "long", "base_url": verbose, "models": ["long"]}]
    options = {"gateway": {"database_url": database_url, **LONG}, "cache": {"enabled": False}}
    return gateway_for(providers, **options), gateway_for(providers, **options)


@pytest.mark.parametrize("extra", [{}, {"max_tokens": OUTPUT_TOKENS}], ids=["no-max", "max"])
def test_two_gateways_sharing_a_budget_admit_exactly_what_it_holds(
    gateway_for: GatewayFactory, verbose: str, database_url: str, extra: dict[str, Any]
) -> None:
    one, two = long_gateways(gateway_for, verbose, database_url)
    with one as first, two as second:
        spec = {"name": f"shared-budget-{len(extra)}", "budget_usd": 0.0021}
        created = httpx.post(f"{first}/admin/keys", json=spec, headers=ADMIN).json()
        statuses = asyncio.run(spend_burst([first, second], created["key"], 40, **extra))
        row = settled(first, created["id"])
    # Four answers of 500 tokens ($0.002); the $0.0001 left buys fewer than 256 tokens.
    assert statuses.count(200) == 4
    assert statuses.count(429) == 36
    assert round(row["spent_usd"] * 1e9) == 2_000_000


def test_two_gateways_refuse_a_name_taken_on_the_other(
    gateway_for: GatewayFactory, verbose: str, database_url: str
) -> None:
    one, two = long_gateways(gateway_for, verbose, database_url)
    with one as first, two as second:
        spec = {"name": "only-once"}
        created = httpx.post(f"{first}/admin/keys", json=spec, headers=ADMIN)
        again = httpx.post(f"{second}/admin/keys", json=spec, headers=ADMIN)
    assert created.status_code == 201
    assert again.status_code == 409 and again.json()["error"]["code"] == "key_name_taken"


async def test_the_ledger_on_postgres_reserves_exactly_to_the_budget(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    ledger = BudgetLedger(engine)
    results = await asyncio.gather(*(ledger.reserve("pg-k", "total", 1_000, 300) for _ in range(8)))
    capped = await ledger.reserve("pg-k", "total", 1_000, 300, lambda left: left or None)
    refused = await ledger.reserve("pg-k", "total", 1_000, 300, lambda left: left or None)
    await engine.dispose()
    assert sum(isinstance(r, Hold) for r in results) == 3
    assert capped == Hold("pg-k", "total", 100)
    assert refused == Refusal(0, 1_000, 1_000, "total", None, "total")


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
