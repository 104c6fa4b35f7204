"""The fallback on a real Redis that is stopped (SIGSTOP), killed and restarted empty.

Each test starts its own Redis: they stop and kill it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Literal

import pytest
from redis.asyncio import Redis

from securellm.core.errors import ServiceUnavailable
from securellm.gateway.limits.fallback import FallbackLimiter, FallbackPolicy
from securellm.gateway.limits.gcra import Bucket, Concurrency, MemoryLimiter
from securellm.gateway.limits.redis_backend import RedisLimiter
from securellm.gateway.redis_client import create_redis
from support.redis_server import RedisServer, redis_server

pytestmark = pytest.mark.redis
TTL_MS = 60_000.0
# One request per minute: a bucket counted as emptied refuses for a whole minute, so no
# test below depends on how fast it runs.
SLOW = Bucket("slow", 1, 1, 1, "requests", "key")
# 1000 tokens at once, then one a minute: what remains is exact while a test runs.
TOKENS = Bucket("tokens", 1, 1000, 1, "tokens", "key")


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
async def client(redis: RedisServer) -> AsyncIterator[Redis]:
    conn = create_redis(redis.url)
    yield conn
    await conn.aclose()


def fallback(
    client: Redis, mode: Literal["share", "closed"] = "share", replicas: int = 1
) -> FallbackLimiter:
    """A replica's limiter that returns to Redis as soon as it answers (no hold)."""
    policy = FallbackPolicy(mode, replicas, resume_hold_ms=0)
    return FallbackLimiter(RedisLimiter(client), MemoryLimiter(), policy)


async def restart(redis: RedisServer, client: Redis) -> None:
    """SIGKILL, then a new, empty Redis on the same port (and fresh connections to it)."""
    redis.kill()
    redis.start()
    await client.connection_pool.disconnect()


async def fail_over(limiter: FallbackLimiter) -> None:
    """A request that finds Redis gone (the limiter falls back)."""
    await limiter.acquire([Bucket("probe", 10**6, 10**6, 1, "requests", "key")], None, TTL_MS)
    assert limiter.outage is not None


async def test_replicas_register_and_count_each_other(client: Redis) -> None:
    first, second = fallback(client), fallback(client)
    await first.beat()
    await second.beat()
    await first.beat()
    assert (first.share, second.share) == (2, 2)
    assert first.status() == {"backend": "redis", "status": "ok", "replicas": 2}


async def test_a_replica_that_leaves_is_no_longer_counted(client: Redis) -> None:
    first, second = fallback(client), fallback(client)
    second.start()
    await second.beat()
    await second.drain()
    await first.beat()
    assert first.replicas_seen == 1


async def test_drain_ends_a_heartbeat_that_swallowed_its_cancel(client: Redis) -> None:
    limiter = fallback(client)
    real_beat = limiter.beat
    waiting, swallowed = asyncio.Event(), asyncio.Event()

    async def beat_that_loses_one_cancel() -> None:
        await real_beat()
        if swallowed.is_set():
            return
        waiting.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.set()  # as Python 3.11's asyncio.timeout may do when both fire at once

    limiter.beat = beat_that_loses_one_cancel  # type: ignore[method-assign]
    limiter.start()
    heartbeat = limiter._heartbeat
    assert heartbeat is not None
    await waiting.wait()
    draining = asyncio.ensure_future(limiter.drain())
    done, _ = await asyncio.wait({draining}, timeout=60)  # a hang guard: before, it never ended
    draining.cancel()
    assert draining in done
    assert swallowed.is_set()
    assert heartbeat.done()


async def test_configured_replicas_are_the_fewest_divided_by(client: Redis) -> None:
    limiter = fallback(client, replicas=4)
    await limiter.beat()
    assert limiter.share == 4


async def test_without_redis_a_replica_admits_its_share_from_empty_buckets(
    client: Redis, redis: RedisServer
) -> None:
    first, second = fallback(client), fallback(client)
    await first.beat()
    await second.beat()
    await first.beat()
    redis.kill()
    decision, backend = await first.acquire([SLOW], None, TTL_MS)
    assert first.outage is not None
    assert backend is first.outage.local
    assert decision.fallback_share == 2
    assert not decision.allowed  # emptied when Redis went away, refilling at 1/2 the rate
    assert decision.retry_after_ms > 60_000


async def test_a_stopped_redis_is_survived_by_falling_back(
    client: Redis, redis: RedisServer
) -> None:
    limiter = fallback(client)
    redis.pause()
    try:
        await fail_over(limiter)
        status = limiter.status()
    finally:
        redis.resume()
    assert status["status"] == "degraded"
    assert status["reason"] == (
        "redis unreachable (TimeoutError); each process admits 1/1 of every limit"
    )


async def test_closed_fallback_refuses_limited_requests_with_503(
    client: Redis, redis: RedisServer
) -> None:
    limiter = fallback(client, mode="closed")
    redis.kill()
    with pytest.raises(ServiceUnavailable) as refused:
        await limiter.acquire([SLOW], None, TTL_MS)
    assert refused.value.headers == {"retry-after": "2"}
    assert "limits_fallback is closed" in refused.value.message
    assert limiter.status()["backend"] == "none"


async def test_extra_tokens_settled_during_an_outage_are_carried_into_redis(
    client: Redis, redis: RedisServer
) -> None:
    limiter = fallback(client)
    _, backend = await limiter.acquire([TOKENS], None, TTL_MS)  # Redis admits it
    redis.pause()
    try:
        await fail_over(limiter)
        limiter.settle(backend, [(TOKENS, 200)], None)  # it used 200 tokens more
    finally:
        redis.resume()
    await limiter.beat()
    after = await RedisLimiter(client).acquire([TOKENS], None, TTL_MS)
    assert limiter.outage is None
    assert after.states["tokens"].remaining == 1000 - 1 - 200 - 1


async def test_refunds_settled_during_an_outage_are_dropped(
    client: Redis, redis: RedisServer
) -> None:
    limiter = fallback(client)
    _, backend = await limiter.acquire([TOKENS.costing(300)], None, TTL_MS)
    redis.pause()
    try:
        await fail_over(limiter)
        limiter.settle(backend, [(TOKENS, -290)], None)
    finally:
        redis.resume()
    await limiter.beat()
    after = await RedisLimiter(client).acquire([TOKENS], None, TTL_MS)
    assert after.states["tokens"].remaining == 1000 - 300 - 1


async def test_slots_freed_during_an_outage_are_released_when_redis_returns(
    client: Redis, redis: RedisServer
) -> None:
    limiter = fallback(client)
    held = Concurrency("one", 1, "first")
    _, backend = await limiter.acquire([], held, TTL_MS)
    redis.pause()
    try:
        await fail_over(limiter)
        limiter.settle(backend, [], held)
    finally:
        redis.resume()
    await limiter.beat()
    again = await RedisLimiter(client).acquire([], Concurrency("one", 1, "second"), TTL_MS)
    assert again.allowed


async def test_what_the_fallback_admitted_is_carried_into_redis(
    client: Redis, redis: RedisServer
) -> None:
    limiter = fallback(client)
    redis.pause()
    try:
        await fail_over(limiter)
        outage = limiter.outage
        assert outage is not None
        outage.adjust([(TOKENS, 400)])  # what its admissions took, as a settlement would
    finally:
        redis.resume()
    await limiter.beat()
    after = await RedisLimiter(client).acquire([TOKENS], None, TTL_MS)
    assert after.states["tokens"].remaining == 1000 - 400 - 1


async def test_a_restarted_redis_counts_buckets_it_lost_as_emptied(
    client: Redis, redis: RedisServer
) -> None:
    limiter = RedisLimiter(client)
    assert (await limiter.acquire([SLOW], None, TTL_MS)).allowed
    await restart(redis, client)
    never_used = Bucket("never-used", 1, 1, 1, "requests", "key")
    decisions = [await limiter.acquire([b], None, TTL_MS) for b in (SLOW, never_used)]
    assert [d.allowed for d in decisions] == [False, False]
    assert decisions[1].retry_after_ms > 30_000


async def test_a_restart_is_noticed_even_if_a_new_replica_reaches_redis_first(
    client: Redis, redis: RedisServer
) -> None:
    old = RedisLimiter(client)
    await old.acquire([SLOW], None, TTL_MS)
    await restart(redis, client)
    newcomer = RedisLimiter(client)
    first = await newcomer.acquire([Bucket("a", 1, 1, 1, "requests", "key")], None, TTL_MS)
    # Any call by a replica that knew the old Redis notices it is a new one.
    await old.acquire([Bucket("b-probe", 10**6, 10**6, 1, "requests", "key")], None, TTL_MS)
    later = await newcomer.acquire([Bucket("b", 1, 1, 1, "requests", "key")], None, TTL_MS)
    assert first.allowed
    assert not later.allowed


async def test_a_redis_seen_for_the_first_time_is_not_counted_as_lost(client: Redis) -> None:
    decision = await RedisLimiter(client).acquire([SLOW], None, TTL_MS)
    assert decision.allowed


async def test_a_refund_to_a_bucket_redis_lost_gives_nothing_back(
    client: Redis, redis: RedisServer
) -> None:
    limiter = RedisLimiter(client)
    await limiter.acquire([TOKENS.costing(500)], None, TTL_MS)
    await restart(redis, client)
    await limiter.settle([(TOKENS, -500)], None)
    after = await limiter.acquire([TOKENS], None, TTL_MS)
    assert after.states["tokens"].remaining < 10
