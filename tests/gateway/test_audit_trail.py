"""The audit trail through a real gateway: one record per request, no secrets, fast queries."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx2 as httpx
import orjson

from securellm.gateway.audit.verify import verify_directory
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory

ADMIN = {"authorization": f"Bearer {MASTER}"}
SEED_FIELDS = {
    "timestamp",
    "request_id",
    "event_type",
    "key_id",
    "key_name",
    "client_ip",
    "provider",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_usd",
    "duration_ms",
    "status",
    "error",
}
PRICES = {"prices": {"fake/echo": {"input": 10_000, "output": 10_000}}}


def provider(fake_upstream: tuple[str, FakeOpenAI]) -> list[dict[str, Any]]:
    return [{"name": "fake", "base_url": fake_upstream[0], "api_key": UPSTREAM_KEY}]


def records(tmp_path: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for path in sorted((tmp_path / "log" / "audit").glob("audit-*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]


def create_key(base: str, name: str = "auditee", **spec: Any) -> dict[str, Any]:
    response = httpx.post(f"{base}/admin/keys", json={"name": name, **spec}, headers=ADMIN)
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


def chat(base: str, key: str, content: str = "hello there", model: str = "fake/echo") -> str:
    response = httpx.post(
        f"{base}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": content}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    request_id: str = response.headers["x-request-id"]
    return request_id


async def mixed_load(base: str, key: str, count: int) -> list[str]:
    """Concurrent requests that end in every way: ok, 401, 404, 400 and 429."""
    bodies = [
        (
            {"authorization": f"Bearer {key}"},
            {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]},
        ),
        ({"authorization": "Bearer sk-sl-wrong"}, {"model": "fake/echo", "messages": []}),
        (
            {"authorization": f"Bearer {key}"},
            {"model": "fake/nope", "messages": [{"role": "user", "content": "x"}]},
        ),
        ({"authorization": f"Bearer {key}"}, {"model": "fake/echo"}),
        (
            {"authorization": f"Bearer {key}"},
            {"model": "fake/error-500", "messages": [{"role": "user", "content": "x"}]},
        ),
    ]
    async with aiohttp.ClientSession() as session:

        async def one(i: int) -> str:
            headers, body = bodies[i % len(bodies)]
            url = f"{base}/v1/chat/completions"
            async with session.post(url, json=body, headers=headers) as response:
                await response.read()
                return response.headers["x-request-id"]

        return await asyncio.gather(*(one(i) for i in range(count)))


def test_one_record_per_request_under_concurrent_mixed_load(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI], tmp_path: Path
) -> None:
    with gateway_for(provider(fake_upstream)) as base:
        key = create_key(base, rpm=100)["key"]
        sent = asyncio.run(mixed_load(base, key, 300))
    found = [r["request_id"] for r in records(tmp_path) if r["endpoint"] == "chat"]
    assert sorted(found) == sorted(sent)
    outcomes = {r["outcome"] for r in records(tmp_path)}
    assert {"ok", "refused", "rate_limited", "failed"} <= outcomes


def test_record_has_the_seed_fields_and_the_real_cost(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI], tmp_path: Path
) -> None:
    with gateway_for(provider(fake_upstream), gateway=PRICES, cache={"enabled": False}) as base:
        key = create_key(base)
        request_id = chat(base, key["key"])
    record = next(r for r in records(tmp_path) if r["request_id"] == request_id)
    assert record.keys() >= SEED_FIELDS
    assert record["event_type"] == "request.ok"
    assert (record["key_id"], record["key_name"]) == (key["id"], "auditee")
    assert (record["provider"], record["model"], record["status"]) == ("fake", "fake/echo", 200)
    assert (record["prompt_tokens"], record["completion_tokens"]) == (2, 2)
    assert record["cost_usd"] == 0.04
    assert record["client_ip"] == "127.0.0.1"


def test_no_key_or_token_appears_in_the_trail(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI], tmp_path: Path
) -> None:
    with gateway_for(provider(fake_upstream)) as base:
        key = create_key(base, log_content=True)["key"]
        chat(base, key, content="my password=hunter2secret and sk-abcdefghijklmnopqrstuvwx")
        chat(base, "sk-sl-not-a-real-key-0123456789")
    text = b"".join(p.read_bytes() for p in (tmp_path / "log" / "audit").glob("*.jsonl")).decode()
    for secret in (
        MASTER,
        UPSTREAM_KEY,
        key,
        "hunter2secret",
        "sk-abcdefghijklmnopqrstuvwx",
        "sk-sl-not-a-real-key-0123456789",
    ):
        assert secret not in text


def test_prompts_are_recorded_only_for_keys_that_ask(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI], tmp_path: Path
) -> None:
    with gateway_for(provider(fake_upstream)) as base:
        quiet = chat(base, create_key(base)["key"], content="private words")
        logged_key = create_key(base, "logger", log_content=True)["key"]
        logged = chat(base, logged_key, content="logged words")
    by_id = {r["request_id"]: r for r in records(tmp_path)}
    assert "content" not in by_id[quiet]
    assert "private words" not in orjson.dumps(by_id[quiet]).decode()
    messages = by_id[logged]["content"]["request"]["messages"]
    assert messages == [{"role": "user", "content": "logged words"}]


def test_trail_written_by_the_gateway_verifies(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI], tmp_path: Path
) -> None:
    with gateway_for(provider(fake_upstream)) as base:
        key = create_key(base)["key"]
        for _ in range(10):
            chat(base, key)
    report = verify_directory(tmp_path / "log" / "audit")
    assert report.ok and report.records == 11  # ten chats and the key creation


def poll(base: str, path: str, params: dict[str, Any], until: Any) -> Any:
    deadline = time.monotonic() + 10
    while True:
        body = httpx.get(f"{base}{path}", params=params, headers=ADMIN).json()
        if until(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_admin_audit_filters_by_key_and_model(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    with gateway_for(provider(fake_upstream)) as base:
        mine, other = create_key(base), create_key(base, name="other")
        chat(base, mine["key"])
        chat(base, mine["key"], model="fake/tools")
        chat(base, other["key"])
        params = {"key": "auditee", "model": "fake/echo", "since": "1h"}
        body = poll(base, "/admin/audit", params, lambda b: len(b["data"]) >= 1)
        time.sleep(0.3)
        body = httpx.get(f"{base}/admin/audit", params=params, headers=ADMIN).json()
    assert [(r["key_id"], r["model"]) for r in body["data"]] == [(mine["id"], "fake/echo")]


def test_admin_audit_rejects_a_bad_time_with_400(fake_gateway: str) -> None:
    response = httpx.get(
        f"{fake_gateway}/admin/audit", params={"since": "yesterday-ish"}, headers=ADMIN
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "since"


def test_admin_audit_refuses_a_virtual_key_with_403(fake_gateway: str) -> None:
    key = create_key(fake_gateway)["key"]
    response = httpx.get(f"{fake_gateway}/admin/audit", headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 403


def test_admin_spend_sums_cost_per_model(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    with gateway_for(provider(fake_upstream), gateway=PRICES, cache={"enabled": False}) as base:
        # The budget holds the most a request without max_tokens can cost while it runs.
        key = create_key(base, budget_usd=500.0, period="month")
        for _ in range(3):
            chat(base, key["key"])
        body = poll(
            base,
            "/admin/spend",
            {"group_by": "model"},
            lambda b: any(r["group"] == "fake/echo" and r["requests"] == 3 for r in b["data"]),
        )
    echo = next(r for r in body["data"] if r["group"] == "fake/echo")
    assert echo["cost_usd"] == 0.12 and echo["tokens"] == 12
    budget = body["budgets"][0]
    assert budget["budget_usd"] == 500.0 and budget["period"].count("-") == 1


def test_responses_are_recorded_for_keys_that_ask(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI], tmp_path: Path
) -> None:
    with gateway_for(provider(fake_upstream)) as base:
        quiet = chat(base, create_key(base)["key"], content="quiet reply")
        logged_key = create_key(base, "logger", log_content=True)["key"]
        logged = chat(base, logged_key, content="echoed reply")
    by_id = {r["request_id"]: r for r in records(tmp_path)}
    assert "echoed reply" in by_id[logged]["content"]["response"]
    assert "quiet reply" not in orjson.dumps(by_id[quiet]).decode()
