"""Budgets through a real gateway (SQLite): reserved against the most a request can cost,
so no number of concurrent requests spends past the budget, with or without max_tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx2 as httpx
import pytest

from support.asgi_server import serve_app
from support.gateway import MASTER, GatewayFactory
from support.verbose_openai import OUTPUT_TOKENS, VerboseOpenAI

ADMIN = {"authorization": f"Bearer {MASTER}"}
# Output only, at gpt-4o-mini's output price: 500 tokens cost $0.0003 (300,000 nano-USD),
# the least a capped request is sent with (256 tokens) $0.0001536. Prompts are free here,
# so a request costs exactly what it reserved and admitted counts are exact.
PRICE_PER_TOKEN_NANO = 600
FULL_NANO = OUTPUT_TOKENS * PRICE_PER_TOKEN_NANO
GATEWAY = {
    "prices": {
        "fake/long": {"input": 0, "output": 0.6},
        "fake/silent": {"input": 0, "output": 0.6},
    },
    "max_output_tokens": {"fake/*": OUTPUT_TOKENS},
}
HELLO = [{"role": "user", "content": "write me a long story"}]


@pytest.fixture(scope="module")
def verbose() -> Iterator[tuple[str, VerboseOpenAI]]:
    fake = VerboseOpenAI()
    with serve_app(fake.app()) as url:
        yield f"{url}/v1", fake


@pytest.fixture
def upstream(verbose: tuple[str, VerboseOpenAI]) -> VerboseOpenAI:
    verbose[1].bodies.clear()
    return verbose[1]


@pytest.fixture
def gateway(gateway_for: GatewayFactory, verbose: tuple[str, VerboseOpenAI]) -> Iterator[str]:
    url = verbose[0]
    providers = [
        {"name": "fake", "base_url": url, "models": ["long", "silent"]},
        {"name": "openai", "base_url": url, "models": ["gpt-4o-mini", "unpriced"]},
        {"name": "local", "kind": "llamacpp", "base_url": url, "models": ["long"]},
    ]
    # The cache is off: a cache hit costs nothing, so spend would not follow the 200s.
    with gateway_for(providers, gateway=GATEWAY, cache={"enabled": False}) as base:
        yield base


def create_key(base: str, **spec: Any) -> dict[str, Any]:
    response = httpx.post(f"{base}/admin/keys", json={"name": "budgeted", **spec}, headers=ADMIN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def chat(base: str, key: str, **body: Any) -> httpx.Response:
    payload = {"model": "fake/long", "messages": HELLO, **body}
    headers = {"authorization": f"Bearer {key}"}
    return httpx.post(f"{base}/v1/chat/completions", json=payload, headers=headers, timeout=30)


def settled(base: str, key_id: str) -> dict[str, Any]:
    """The key's budget row once no reservation is left (settlement is asynchronous)."""
    deadline = time.monotonic() + 10
    while True:
        spend = httpx.get(f"{base}/admin/spend", params={"key": key_id}, headers=ADMIN).json()
        row: dict[str, Any] = spend["budgets"][0]
        if row["reserved_usd"] == 0 or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


def nano(usd: float) -> int:
    return round(usd * 1e9)


async def burst(base: str, key: str, count: int, **extra: Any) -> list[tuple[int, Any]]:
    headers = {"authorization": f"Bearer {key}"}
    body = {"model": "fake/long", "messages": HELLO, **extra}
    async with aiohttp.ClientSession() as session:

        async def one() -> tuple[int, Any]:
            url = f"{base}/v1/chat/completions"
            async with session.post(url, json=body, headers=headers) as response:
                return response.status, await response.json()

        return await asyncio.gather(*(one() for _ in range(count)))


def test_fifty_concurrent_requests_without_max_tokens_admit_exactly_what_the_budget_holds(
    gateway: str, upstream: VerboseOpenAI
) -> None:
    key = create_key(gateway, budget_usd=0.005)
    results = asyncio.run(burst(gateway, key["key"], 50))
    row = settled(gateway, key["id"])
    statuses = [status for status, _ in results]
    # 16 requests of 500 tokens ($0.0048), then one capped at the 333 tokens that $0.0002
    # buys; what is left ($0.0000002) buys less than 256 tokens.
    assert statuses.count(200) == 17
    assert statuses.count(429) == 33
    assert nano(row["spent_usd"]) == 16 * FULL_NANO + 333 * PRICE_PER_TOKEN_NANO
    assert nano(row["spent_usd"]) <= 5_000_000
    assert sorted(b["max_tokens"] for b in upstream.bodies) == [333] + [OUTPUT_TOKENS] * 16


def test_refusals_under_load_are_budget_errors_in_the_openai_shape(gateway: str) -> None:
    key = create_key(gateway, budget_usd=0.001)
    results = asyncio.run(burst(gateway, key["key"], 20))
    refused = [body["error"] for status, body in results if status == 429]
    assert refused
    assert {(e["type"], e["code"]) for e in refused} == {("insufficient_quota", "budget_exceeded")}


def test_requests_with_max_tokens_admit_exactly_what_the_budget_holds(gateway: str) -> None:
    key = create_key(gateway, budget_usd=0.0013)  # four requests of 500 tokens, and a bit
    results = asyncio.run(burst(gateway, key["key"], 40, max_tokens=OUTPUT_TOKENS))
    row = settled(gateway, key["id"])
    assert [status for status, _ in results].count(200) == 4
    assert nano(row["spent_usd"]) == 4 * FULL_NANO


def test_gpt_4o_mini_at_list_prices_never_spends_past_the_budget(gateway: str) -> None:
    key = create_key(gateway, budget_usd=0.005)
    results = asyncio.run(burst(gateway, key["key"], 50, model="openai/gpt-4o-mini"))
    row = settled(gateway, key["id"])
    assert [s for s, _ in results].count(200) >= 1
    assert 0 < nano(row["spent_usd"]) <= 5_000_000


def test_a_request_without_max_tokens_is_sent_with_what_the_budget_affords(
    gateway: str, upstream: VerboseOpenAI
) -> None:
    key = create_key(gateway, budget_usd=0.0011)
    for _ in range(3):
        assert chat(gateway, key["key"]).status_code == 200
        settled(gateway, key["id"])
    capped = chat(gateway, key["key"])
    assert capped.status_code == 200
    assert capped.headers["x-securellm-max-tokens"] == "333"
    assert capped.json()["choices"][0]["finish_reason"] == "length"
    assert upstream.bodies[-1]["max_tokens"] == 333
    assert nano(settled(gateway, key["id"])["spent_usd"]) == 3 * FULL_NANO + 333 * 600


def test_a_request_with_max_tokens_is_refused_rather_than_cut_short(gateway: str) -> None:
    key = create_key(gateway, budget_usd=0.0011)
    for _ in range(3):
        assert chat(gateway, key["key"], max_tokens=OUTPUT_TOKENS).status_code == 200
        settled(gateway, key["id"])
    refused = chat(gateway, key["key"], max_tokens=OUTPUT_TOKENS)
    assert refused.status_code == 429
    assert "needs $0.0003 reserved" in refused.json()["error"]["message"]


def test_the_refusal_shows_spent_and_reserved_to_the_nano_dollar(gateway: str) -> None:
    key = create_key(gateway, budget_usd=0.001, period="day")
    for _ in range(3):
        chat(gateway, key["key"])
        settled(gateway, key["id"])
    refused = chat(gateway, key["key"])
    message = refused.json()["error"]["message"]
    assert refused.status_code == 429
    assert "key 'budgeted' has $0.0009 spent and $0.00 reserved" in message
    assert "of its $0.001 daily budget" in message
    assert "needs $0.0001536 reserved (its prompt and at most 256 output tokens)" in message
    assert "resets at" in message and int(refused.headers["retry-after"]) >= 1


def test_cost_comes_from_the_real_usage(gateway: str) -> None:
    key = create_key(gateway, budget_usd=1.0)
    chat(gateway, key["key"], max_tokens=40)
    assert nano(settled(gateway, key["id"])["spent_usd"]) == 40 * PRICE_PER_TOKEN_NANO


def test_a_streamed_request_is_charged_its_streamed_usage(gateway: str) -> None:
    key = create_key(gateway, budget_usd=1.0)
    reply = chat(gateway, key["key"], stream=True, max_tokens=30)
    assert reply.status_code == 200 and reply.text.endswith("data: [DONE]\n\n")
    assert nano(settled(gateway, key["id"])["spent_usd"]) == 30 * PRICE_PER_TOKEN_NANO


def test_an_answer_without_usage_is_charged_its_whole_reservation(gateway: str) -> None:
    key = create_key(gateway, budget_usd=1.0)
    assert chat(gateway, key["key"], model="fake/silent").status_code == 200
    assert nano(settled(gateway, key["id"])["spent_usd"]) == FULL_NANO


def test_a_budgeted_key_is_refused_a_model_with_no_known_price(gateway: str) -> None:
    key = create_key(gateway, budget_usd=1.0)
    refused = chat(gateway, key["key"], model="openai/unpriced")
    error = refused.json()["error"]
    assert refused.status_code == 403
    assert (error["type"], error["code"]) == ("permission_error", "model_not_priced")
    assert 'gateway.prices."openai/unpriced"' in error["message"]


def test_a_key_without_budget_may_use_a_model_with_no_known_price(gateway: str) -> None:
    key = create_key(gateway)
    assert chat(gateway, key["key"], model="openai/unpriced").status_code == 200


def test_free_models_are_never_refused_by_the_budget(gateway: str) -> None:
    key = create_key(gateway, budget_usd=0.0003)
    assert chat(gateway, key["key"]).status_code == 200  # spends the whole budget
    settled(gateway, key["id"])
    assert chat(gateway, key["key"]).status_code == 429
    assert chat(gateway, key["key"], model="local/long").status_code == 200


def test_spend_counts_only_admitted_requests(gateway: str) -> None:
    key = create_key(gateway, budget_usd=0.0006)
    statuses = []
    for _ in range(4):
        statuses.append(chat(gateway, key["key"], max_tokens=OUTPUT_TOKENS).status_code)
        settled(gateway, key["id"])
    deadline = time.monotonic() + 10
    while True:  # the audit index is written in the background
        audit = httpx.get(f"{gateway}/admin/audit", params={"key": key["id"]}, headers=ADMIN)
        if len(audit.json()["data"]) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    params = {"key": key["id"], "group_by": "key"}
    body = httpx.get(f"{gateway}/admin/spend", params=params, headers=ADMIN).json()
    assert statuses == [200, 200, 429, 429]
    assert [row["requests"] for row in body["data"]] == [2]


def test_anthropic_clients_are_held_to_the_budget_and_refused_in_their_shape(
    gateway: str,
) -> None:
    key = create_key(gateway, budget_usd=0.0004)  # one answer of 400 tokens ($0.00024)
    headers = {"x-api-key": key["key"], "anthropic-version": "2023-06-01"}
    body = {"model": "fake/long", "max_tokens": 400, "messages": HELLO}
    url = f"{gateway}/v1/messages"
    first = httpx.post(url, json=body, headers=headers, timeout=30)
    spent = nano(settled(gateway, key["id"])["spent_usd"])
    second = httpx.post(url, json=body, headers=headers, timeout=30)
    assert first.status_code == 200
    assert spent == 400 * PRICE_PER_TOKEN_NANO
    assert second.status_code == 429
    assert second.json()["type"] == "error"
    assert "budget exhausted" in second.json()["error"]["message"]
