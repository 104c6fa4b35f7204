"""Two gateway replicas under load while their Redis is stopped, then killed and restarted.

The run happens once (module fixture): one key with ``rpm = 60`` (burst 60), two replicas
sharing one Redis and one key store, clients on both. Redis is SIGSTOPped for a while, let
go, then SIGKILLed and started again empty. The tests count what was admitted against the
bound docs/security.md promises: ``max(burst, N) + limit × t / 60 + N`` over ``t`` seconds.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx2 as httpx
import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, make_settings
from support.redis_server import RedisServer, redis_server

pytestmark = pytest.mark.redis
LIMIT = 60
REPLICAS = 2
CLIENTS_PER_REPLICA = 2
BODY = {"model": "fake/echo", "messages": [{"role": "user", "content": "hello"}]}


@dataclass
class Run:
    # (seconds since the load began, replica index, status)
    answers: list[tuple[float, int, int]] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    limits_while_stopped: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0

    def admitted(self, replica: int | None = None, between: tuple[str, str] | None = None) -> int:
        start, end = (self.marks[between[0]], self.marks[between[1]]) if between else (0, 1e9)
        return sum(
            1
            for at, index, status in self.answers
            if status == 200 and replica in (None, index) and start <= at <= end
        )


async def clients(urls: list[str], key: str, run: Run, started: float, stop: asyncio.Event) -> None:
    headers = {"authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session:

        async def one_client(replica: int) -> None:
            url = f"{urls[replica]}/v1/chat/completions"
            while not stop.is_set():
                async with session.post(url, json=BODY, headers=headers) as response:
                    await response.read()
                    run.answers.append((time.monotonic() - started, replica, response.status))
                await asyncio.sleep(0.02)

        replicas = [i % REPLICAS for i in range(REPLICAS * CLIENTS_PER_REPLICA)]
        await asyncio.gather(*(one_client(replica) for replica in replicas))


async def outages(redis: RedisServer, urls: list[str], run: Run, started: float) -> None:
    def mark(name: str) -> None:
        run.marks[name] = time.monotonic() - started

    await asyncio.sleep(1.5)
    redis.pause()
    mark("stopped")
    await asyncio.sleep(5)
    run.limits_while_stopped = [await asyncio.to_thread(limits_check, url) for url in urls]
    redis.resume()
    mark("continued")
    await asyncio.sleep(9)  # the replicas return to Redis within ~8 s
    redis.kill()
    mark("killed")
    await asyncio.sleep(1)
    await asyncio.to_thread(redis.start)
    mark("restarted")
    await asyncio.sleep(7)


def limits_check(base: str) -> dict[str, Any]:
    check: dict[str, Any] = httpx.get(f"{base}/ready", timeout=30).json()["checks"]["limits"]
    return check


async def drive(redis: RedisServer, urls: list[str], key: str) -> Run:
    run, stop = Run(), asyncio.Event()
    started = time.monotonic()
    load = asyncio.create_task(clients(urls, key, run, started, stop))
    await outages(redis, urls, run, started)
    stop.set()
    await load
    run.elapsed_s = time.monotonic() - started
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("outage")
    fake = FakeOpenAI()
    with ExitStack() as stack:
        upstream = stack.enter_context(serve_app(fake.app()))
        redis = stack.enter_context(redis_server())
        provider = {"name": "fake", "base_url": f"{upstream}/v1", "api_key": UPSTREAM_KEY}
        settings = make_settings(
            root,  # one data dir: the replicas share the key store, as with PostgreSQL
            [provider],
            gateway={"redis_url": redis.url},
            audit={"enabled": False},
            cache={"enabled": False},
        )
        urls = [stack.enter_context(serve_app(create_app(settings))) for _ in range(REPLICAS)]
        spec = {"name": "shared", "rpm": LIMIT}
        admin = {"authorization": f"Bearer {MASTER}"}
        created = httpx.post(f"{urls[0]}/admin/keys", json=spec, headers=admin)
        assert created.status_code == 201, created.text
        wait_until_replicas_see_each_other(urls)
        yield asyncio.run(drive(redis, urls, created.json()["key"]))


def wait_until_replicas_see_each_other(urls: list[str]) -> None:
    deadline = time.monotonic() + 30
    while any(limits_check(url).get("replicas") != REPLICAS for url in urls):
        assert time.monotonic() < deadline, [limits_check(url) for url in urls]
        time.sleep(0.2)


def test_replicas_admit_no_more_than_the_documented_bound(run: Run) -> None:
    bound = max(LIMIT, REPLICAS) + math.ceil(LIMIT * run.elapsed_s / 60) + REPLICAS
    assert run.admitted() <= bound, (run.admitted(), bound, run.elapsed_s, run.marks)


def test_every_answer_is_an_admission_or_a_429(run: Run) -> None:
    assert {status for _, _, status in run.answers} == {200, 429}


def test_each_replica_keeps_admitting_its_share_while_redis_is_stopped(run: Run) -> None:
    during = [run.admitted(replica, ("stopped", "continued")) for replica in range(REPLICAS)]
    assert min(during) >= 1, during


def test_replicas_report_the_fallback_while_redis_is_stopped(run: Run) -> None:
    assert [check["status"] for check in run.limits_while_stopped] == ["degraded"] * REPLICAS
    reasons = {check["reason"] for check in run.limits_while_stopped}
    assert reasons == {"redis unreachable (TimeoutError); each process admits 1/2 of every limit"}
