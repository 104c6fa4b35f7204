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
    await limiter.settle([("tok", tokens.interval_ms, -700)], None)
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


async def test_unreachable_redis_falls_back_and_reports_degraded() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = FallbackLimiter(RedisLimiter(dead), MemoryLimiter())
    decision, backend = await limiter.acquire(
        [Bucket("f", 10, 10, 1, "requests", "key")], None, 60_000
    )
    await dead.aclose()
    assert decision.allowed
    assert backend is limiter.local
    assert limiter.status()["status"] == "degraded"


def test_redis_killed_mid_test_requests_keep_flowing(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    provider = {"name": "fake", "base_url": fake_upstream[0], "api_key": UPSTREAM_KEY}
    with (
        redis_server() as server,
        gateway_for([provider], gateway={"redis_url": server.url}, cache=NO_CACHE) as base,
    ):
        created = httpx.post(f"{base}/admin/keys", json={"name": "k", "rpm": 1000}, headers=ADMIN)
        headers = {"authorization": f"Bearer {created.json()['key']}"}
        body = {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]}

        def send() -> int:
            url = f"{base}/v1/chat/completions"
            return httpx.post(url, json=body, headers=headers, timeout=30).status_code

        before = [send() for _ in range(5)]
        ready_before = httpx.get(f"{base}/ready").json()["checks"]["limits"]
        server.kill()
        during = [send() for _ in range(20)]
        ready = httpx.get(f"{base}/ready")
        server.start()
        time.sleep(2.1)  # the fallback retries Redis every 2 s
        after = [send() for _ in range(3)]
        restored = httpx.get(f"{base}/ready").json()["checks"]["limits"]
    assert before == [200] * 5 and during == [200] * 20 and after == [200] * 3
    assert ready_before == {"backend": "redis", "status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["checks"]["limits"]["status"] == "degraded"
    assert restored["status"] == "ok"


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
