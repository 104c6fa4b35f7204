"""Budgets: reserved atomically, so concurrent requests overspend by less than one request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx2 as httpx
import pytest

from securellm.core.db import create_engine
from securellm.gateway.migrations import upgrade
from securellm.gateway.spend import BudgetLedger, Hold, Refusal, period_of
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory

ADMIN = {"authorization": f"Bearer {MASTER}"}
# 1 cent per token: "hello there" costs 2 + 2 tokens = $0.04 through the echo model.
PRICES = {"prices": {"fake/echo": {"input": 10_000, "output": 10_000}}}
COST = 0.04
HELLO = {"model": "fake/echo", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture
def gateway(gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]) -> Iterator[str]:
    provider = {"name": "fake", "base_url": fake_upstream[0], "api_key": UPSTREAM_KEY}
    with gateway_for([provider], gateway=PRICES, cache={"enabled": False}) as base:
        yield base


def create_key(base: str, **spec: Any) -> dict[str, Any]:
    response = httpx.post(f"{base}/admin/keys", json={"name": "budgeted", **spec}, headers=ADMIN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def settled_budget(base: str, key_id: str) -> dict[str, Any]:
    """The key's budget row once no reservation is left (settlement is asynchronous)."""
    deadline = time.monotonic() + 10
    while True:
        spend = httpx.get(f"{base}/admin/spend", params={"key": key_id}, headers=ADMIN).json()
        row: dict[str, Any] = spend["budgets"][0]
        if row["reserved_usd"] < 1e-9 or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


async def burst(base: str, key: str, count: int) -> list[tuple[int, dict[str, Any]]]:
    headers = {"authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session:

        async def one() -> tuple[int, dict[str, Any]]:
            body = {**HELLO, "max_tokens": 4}
            url = f"{base}/v1/chat/completions"
            async with session.post(url, json=body, headers=headers) as response:
                return response.status, await response.json()

        return await asyncio.gather(*(one() for _ in range(count)))


def test_concurrent_requests_overspend_by_less_than_one_request(gateway: str) -> None:
    key = create_key(gateway, budget_usd=0.2, period="day")
    results = asyncio.run(burst(gateway, key["key"], 40))
    row = settled_budget(gateway, key["id"])
    admitted = [status for status, _ in results if status == 200]
    assert row["spent_usd"] == pytest.approx(len(admitted) * COST)
    assert row["spent_usd"] < 0.2 + COST
    assert len(admitted) >= 1


def test_budget_refusal_is_a_429_with_a_clear_message(gateway: str) -> None:
    key = create_key(gateway, budget_usd=0.05, period="day")
    headers = {"authorization": f"Bearer {key['key']}"}
    url = f"{gateway}/v1/chat/completions"
    statuses = []
    for _ in range(4):
        statuses.append(httpx.post(url, json=HELLO, headers=headers).status_code)
        settled_budget(gateway, key["id"])
    refused = httpx.post(url, json=HELLO, headers=headers)
    assert statuses[:2] == [200, 200]
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded"
    assert error["type"] == "insufficient_quota"
    assert "budget exhausted" in error["message"] and "daily budget" in error["message"]
    assert int(refused.headers["retry-after"]) >= 1


def test_cost_comes_from_the_real_usage(gateway: str) -> None:
    key = create_key(gateway, budget_usd=100.0, period="total")
    headers = {"authorization": f"Bearer {key['key']}"}
    body = {**HELLO, "messages": [{"role": "user", "content": "one two three four five"}]}
    httpx.post(f"{gateway}/v1/chat/completions", json=body, headers=headers)
    assert settled_budget(gateway, key["id"])["spent_usd"] == pytest.approx(0.10)


def test_day_month_and_total_periods_have_stable_names() -> None:
    now = datetime(2026, 11, 21, 23, 59, tzinfo=UTC)
    assert period_of("day", now) == ("2026-11-21", datetime(2026, 11, 22, tzinfo=UTC))
    assert period_of("month", now) == ("2026-11", datetime(2026, 12, 1, tzinfo=UTC))
    assert period_of("total", now) == ("total", None)


async def test_ledger_refuses_once_spent_reaches_the_budget(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/budget.db")
    await upgrade(engine)
    ledger = BudgetLedger(engine)
    hold = await ledger.reserve("k", "total", 1.0, 0.5)
    assert isinstance(hold, Hold)
    await ledger.settle(hold, 1.0)
    refusal = await ledger.reserve("k", "total", 1.0, 0.5)
    usage = await ledger.usage("k", "total")
    ledger.close()
    await engine.dispose()
    assert isinstance(refusal, Refusal) and refusal.spent == 1.0
    assert usage["spent_usd"] == 1.0 and usage["reserved_usd"] == 0.0


async def test_ledger_settle_replaces_the_reservation(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/budget.db")
    await upgrade(engine)
    ledger = BudgetLedger(engine)
    hold = await ledger.reserve("k", "day", 1.0, 0.3)
    during = await ledger.usage("k", "day")
    assert isinstance(hold, Hold)
    await ledger.settle(hold, 0.1)
    after = await ledger.usage("k", "day")
    ledger.close()
    await engine.dispose()
    assert (during["reserved_usd"], during["spent_usd"]) == (0.3, 0.0)
    assert (after["reserved_usd"], after["spent_usd"]) == (0.0, 0.1)
