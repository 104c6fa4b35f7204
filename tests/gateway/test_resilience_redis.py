"""With Redis, breakers and cache are shared by every gateway; without it, nothing breaks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.faulty_upstream import FaultyUpstream
from support.gateway import MASTER, make_settings
from support.redis_server import RedisServer, redis_server

AUTH = {"authorization": f"Bearer {MASTER}"}
CACHE_ON = {"enabled": True}  # off by default; temperature 0 requests are cached


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def upstream() -> Iterator[tuple[str, FaultyUpstream]]:
    faulty = FaultyUpstream()
    with serve_app(faulty.app()) as url:
        yield f"{url}/v1", faulty


def two_gateways(
    tmp_path: Path, upstream_url: str, redis_url: str, stack: ExitStack, **provider: Any
) -> list[str]:
    """Two gateway apps with separate state, one Redis (as two processes would have)."""
    spec = {"name": "up", "base_url": upstream_url, "retry": {"attempts": 1}, **provider}
    urls = []
    for index in range(2):
        settings = make_settings(
            tmp_path / str(index), [spec], gateway={"redis_url": redis_url}, cache=CACHE_ON
        )
        urls.append(stack.enter_context(serve_app(create_app(settings))))
    return urls


def chat(base: str) -> httpx.Response:
    body = {"model": "up/echo", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    return httpx.post(f"{base}/v1/chat/completions", json=body, headers=AUTH, timeout=30)


def test_a_circuit_opened_by_one_gateway_is_open_for_the_other(
    tmp_path: Path, redis: RedisServer, upstream: tuple[str, FaultyUpstream]
) -> None:
    url, faulty = upstream
    faulty.script("echo", ["500", "500"])
    breaker = {"failure_threshold": 2, "cooldown_s": 60}
    with ExitStack() as stack:
        first, second = two_gateways(tmp_path, url, redis.url, stack, breaker=breaker)
        assert [chat(first).status_code, chat(first).status_code] == [502, 502]
        refused = chat(second)
    assert refused.status_code == 503
    assert faulty.calls["echo"] == 2


def test_an_answer_cached_by_one_gateway_is_served_by_the_other(
    tmp_path: Path, redis: RedisServer, upstream: tuple[str, FaultyUpstream]
) -> None:
    url, faulty = upstream
    with ExitStack() as stack:
        first, second = two_gateways(tmp_path, url, redis.url, stack)
        answer = chat(first)
        cached = _eventually_cached(second)
    assert cached.content == answer.content
    assert faulty.calls["echo"] == 1


def _eventually_cached(base: str) -> httpx.Response:
    """The store is written just after the first answer; the first lookup may miss once."""
    for _ in range(20):
        response = chat(base)
        if httpx.get(f"{base}/admin/cache", headers=AUTH).json()["hits"]:
            return response
    raise AssertionError("the second gateway never hit the shared cache")


def test_redis_dying_mid_test_degrades_to_in_process_without_errors(
    tmp_path: Path, redis: RedisServer, upstream: tuple[str, FaultyUpstream]
) -> None:
    url, _ = upstream
    with ExitStack() as stack:
        first, _second = two_gateways(tmp_path, url, redis.url, stack)
        assert chat(first).status_code == 200
        redis.kill()
        statuses = [chat(first).status_code for _ in range(5)]
        ready = httpx.get(f"{first}/ready").json()
    assert statuses == [200] * 5
    assert ready["checks"]["cache"]["degraded"] is True


async def test_a_healthy_circuit_does_not_ask_redis_on_every_request(redis: RedisServer) -> None:
    from securellm.core.config.resilience import BreakerSettings
    from securellm.gateway.redis_client import create_redis
    from securellm.gateway.resilience.breaker import RedisBreakers

    client = create_redis(redis.url)
    breakers = RedisBreakers(client)
    await client.config_resetstat()
    for _ in range(100):
        assert (await breakers.allow("up", BreakerSettings()))[0]
        await breakers.success("up")
    stats = await client.info("commandstats")
    await client.aclose()
    calls = sum(v["calls"] for k, v in stats.items() if k.startswith("cmdstat_eval"))
    assert 1 <= calls <= 2
