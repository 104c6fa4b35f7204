"""The shared limiter on a real Redis: exact under concurrency, and a fallback when it dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from redis.asyncio import Redis

from securellm.gateway.limits.fallback import FallbackLimiter
from securellm.gateway.limits.gcra import Bucket, Concurrency, MemoryLimiter
from securellm.gateway.limits.redis_backend import RedisLimiter
from securellm.gateway.redis_client import create_redis
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory
from support.redis_server import RedisServer, redis_server
from support.require import free_port

pytestmark = pytest.mark.redis
ADMIN = {"authorization": f"Bearer {MASTER}"}
# Every request reaches the limiter and the upstream: no cache hits.
NO_CACHE = {"enabled": False}


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def client(server: RedisServer) -> Redis:
    return create_redis(server.url)


async def test_concurrent_acquires_from_two_clients_admit_exactly_the_capacity(
    redis: RedisServer,
) -> None:
    first, second = client(redis), client(redis)
    limiters = [RedisLimiter(first), RedisLimiter(second)]
    bucket = Bucket("exact", 100, 100, 1, "requests", "key")
    decisions = await asyncio.gather(
        *(limiters[i % 2].acquire([bucket], None, 60_000) for i in range(300))
    )
    await first.aclose()
    await second.aclose()
    assert sum(d.allowed for d in decisions) == 100


async def test_redis_refusal_matches_the_in_process_arithmetic(redis: RedisServer) -> None:
    conn = client(redis)
    limiter = RedisLimiter(conn)
    bucket = Bucket("arith", 60, 2, 1, "requests", "key")
    results = [await limiter.acquire([bucket], None, 60_000) for _ in range(3)]
    await conn.aclose()
    assert [r.allowed for r in results] == [True, True, False]
    assert [r.states["arith"].remaining for r in results[:2]] == [1, 0]
    assert 900 <= results[2].retry_after_ms <= 1000
    assert results[2].denied == bucket


async def test_redis_refusal_charges_no_bucket(redis: RedisServer) -> None:
    conn = client(redis)
    limiter = RedisLimiter(conn)
    wide, full = (
        Bucket("wide", 100, 100, 1, "requests", "key"),
        Bucket("full", 1, 1, 1, "requests", "key"),
    )
    await limiter.acquire([full], None, 60_000)
    refused = await limiter.acquire([wide, full], None, 60_000)
    after = await limiter.acquire([wide], None, 60_000)
    await conn.aclose()
    assert not refused.allowed
    assert after.states["wide"].remaining == 99


async def test_redis_token_adjustment_refunds(redis: RedisServer) -> None:
    conn = client(redis)
    limiter = RedisLimiter(conn)
    tokens = Bucket("tok", 1000, 1000, 800, "tokens", "key")
    await limiter.acquire([tokens], None, 60_000)
    await limiter.settle([(tokens, -700)], None)
    probe = await limiter.acquire([Bucket("tok", 1000, 1000, 1, "tokens", "key")], None, 60_000)
    await conn.aclose()
    assert probe.states["tok"].remaining == 899


async def test_redis_concurrency_slots_are_shared_and_released(redis: RedisServer) -> None:
    conn = client(redis)
    limiter = RedisLimiter(conn)
    one, two = Concurrency("cc", 1, "a"), Concurrency("cc", 1, "b")
    assert (await limiter.acquire([], one, 60_000)).allowed
    refused = await limiter.acquire([], two, 60_000)
    await limiter.settle([], one)
    again = await limiter.acquire([], two, 60_000)
    await conn.aclose()
    assert refused.concurrency_denied
    assert again.allowed


async def test_unreachable_redis_falls_back_to_empty_buckets_and_reports_degraded() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = FallbackLimiter(RedisLimiter(dead), MemoryLimiter())
    decision, backend = await limiter.acquire(
        [Bucket("f", 10, 10, 1, "requests", "key")], None, 60_000
    )
    await dead.aclose()
    assert limiter.outage is not None
    assert backend is limiter.outage.local
    # What the other replicas took just before is unknown: no burst, only the rate.
    assert not decision.allowed
    assert decision.states["f"].remaining == 0
    assert limiter.status()["status"] == "degraded"


def test_redis_killed_mid_test_requests_keep_flowing(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    provider = {"name": "fake", "base_url": fake_upstream[0], "api_key": UPSTREAM_KEY}
    with (
        redis_server() as server,
        gateway_for([provider], gateway={"redis_url": server.url}, cache=NO_CACHE) as base,
    ):
        # Fast enough that the fallback's empty start never refuses a sequential client.
        spec = {"name": "k", "rpm": 10**8}
        created = httpx.post(f"{base}/admin/keys", json=spec, headers=ADMIN)
        headers = {"authorization": f"Bearer {created.json()['key']}"}
        body = {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]}

        def send() -> int:
            url = f"{base}/v1/chat/completions"
            return httpx.post(url, json=body, headers=headers, timeout=30).status_code

        before = [send() for _ in range(5)]
        ready_before = limits_check(base)
        server.kill()
        during = [send() for _ in range(20)]
        ready = httpx.get(f"{base}/ready")
        server.start()
        restored = wait_for_limits(base, "ok")
        after = [send() for _ in range(3)]
    assert before == [200] * 5 and during == [200] * 20 and after == [200] * 3
    assert ready_before == {"backend": "redis", "status": "ok", "replicas": 1}
    assert ready.status_code == 200
    assert ready.json()["checks"]["limits"]["status"] == "degraded"
    assert restored["backend"] == "redis"


def limits_check(base: str) -> dict[str, object]:
    check: dict[str, object] = httpx.get(f"{base}/ready").json()["checks"]["limits"]
    return check


def wait_for_limits(base: str, status: str, within_s: float = 60) -> dict[str, object]:
    """The limits check once it reports ``status`` (the heartbeat runs every 2 s, and
    replicas return to Redis together a few seconds after it answers again)."""
    deadline = time.monotonic() + within_s
    while (check := limits_check(base))["status"] != status:
        assert time.monotonic() < deadline, check
        time.sleep(0.2)
    return check


def test_shared_concurrency_slot_is_freed_for_the_next_request(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI], redis: RedisServer
) -> None:
    provider = {"name": "fake", "base_url": fake_upstream[0], "api_key": UPSTREAM_KEY}
    with gateway_for([provider], gateway={"redis_url": redis.url}, cache=NO_CACHE) as base:
        spec = {"name": "one-at-a-time", "max_concurrency": 1, "tpm": 100_000}
        created = httpx.post(f"{base}/admin/keys", json=spec, headers=ADMIN)
        headers = {"authorization": f"Bearer {created.json()['key']}"}
        body = {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]}
        statuses = []
        for _ in range(5):
            url = f"{base}/v1/chat/completions"
            statuses.append(httpx.post(url, json=body, headers=headers).status_code)
            time.sleep(0.05)
    assert statuses == [200] * 5


def test_closed_fallback_refuses_limited_requests_with_503_in_the_client_shape(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    provider = {"name": "fake", "base_url": fake_upstream[0], "api_key": UPSTREAM_KEY}
    closed = {"redis_url": f"redis://127.0.0.1:{free_port()}/0", "limits_fallback": "closed"}
    with gateway_for([provider], gateway=closed, cache=NO_CACHE) as base:
        created = httpx.post(f"{base}/admin/keys", json={"name": "k", "rpm": 100}, headers=ADMIN)
        key = created.json()["key"]
        body = {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]}
        openai = httpx.post(
            f"{base}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
        )
        anthropic = httpx.post(
            f"{base}/v1/messages",
            json={**body, "max_tokens": 16},
            headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        )
    assert (openai.status_code, anthropic.status_code) == (503, 503)
    assert openai.headers["retry-after"] == anthropic.headers["retry-after"] == "2"
    assert openai.json()["error"]["type"] == "service_unavailable"
    assert "limits_fallback is closed" in openai.json()["error"]["message"]
    assert anthropic.json()["type"] == "error"


def test_closed_fallback_still_serves_keys_without_limits(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    provider = {"name": "fake", "base_url": fake_upstream[0], "api_key": UPSTREAM_KEY}
    closed = {"redis_url": f"redis://127.0.0.1:{free_port()}/0", "limits_fallback": "closed"}
    with gateway_for([provider], gateway=closed, cache=NO_CACHE) as base:
        created = httpx.post(f"{base}/admin/keys", json={"name": "free"}, headers=ADMIN)
        headers = {"authorization": f"Bearer {created.json()['key']}"}
        body = {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(f"{base}/v1/chat/completions", json=body, headers=headers)
    assert answer.status_code == 200
