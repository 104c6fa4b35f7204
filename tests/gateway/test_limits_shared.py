"""Two gateway processes sharing one Redis: 500 concurrent requests against 100 per minute.

The load runs once (module fixture); the processes are then stopped with SIGTERM, and the
tests read what happened: how many were admitted, how refusals looked, and what the audit
trail holds.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx2 as httpx
import orjson
import pytest

from securellm.core.db import create_engine
from securellm.gateway.audit.verify import verify_directory
from securellm.gateway.keys import KeyStore, NewKey
from support.asgi_server import serve_app
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY
from support.redis_server import redis_server
from support.require import free_port

pytestmark = pytest.mark.redis
REQUESTS = 500
LIMIT = 100


@dataclass
class Load:
    statuses: list[int] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0
    audit_dir: Path = Path()
    exit_codes: list[int | None] = field(default_factory=list)


def write_config(root: Path, upstream: str, redis_url: str) -> Path:
    config = root / "securellm.toml"
    config.write_text(
        f"""
data_dir = "{root}/data"
state_dir = "{root}/state"
log_dir = "{root}/log"

[gateway]
master_key = "{MASTER}"
redis_url = "{redis_url}"

[audit]
dir = "{root}/audit"

[[providers]]
name = "fake"
kind = "openai-compatible"
base_url = "{upstream}"
api_key = "{UPSTREAM_KEY}"
models = ["echo"]
"""
    )
    return config


def create_key(root: Path) -> str:
    async def run() -> str:
        engine = create_engine(f"sqlite:///{root}/data/gateway.db")
        store = KeyStore(engine)
        await store.create_schema()
        _, plaintext = await store.create(NewKey(name="shared", rpm=LIMIT))
        await engine.dispose()
        return plaintext

    return asyncio.run(run())


def start_gateway(config: Path, port: int) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "securellm.gateway.app:app_from_environment",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = {**os.environ, "SECURELLM_CONFIG": str(config)}
    return subprocess.Popen(argv, env=env)


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gateway process exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gateway did not become ready")


async def fire(ports: list[int], key: str, load: Load) -> None:
    body = {"model": "fake/echo", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> tuple[int, dict[str, str], dict[str, Any]]:
            url = f"http://127.0.0.1:{ports[i % 2]}/v1/chat/completions"
            async with session.post(url, json=body, headers=headers) as response:
                return response.status, dict(response.headers), await response.json()

        started = time.monotonic()
        results = await asyncio.gather(*(one(i) for i in range(REQUESTS)))
        load.elapsed_s = time.monotonic() - started
    for status, hdrs, payload in results:
        load.statuses.append(status)
        load.headers.append({k.lower(): v for k, v in hdrs.items()})
        load.bodies.append(payload)


@pytest.fixture(scope="module")
def load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Load]:
    root = tmp_path_factory.mktemp("shared")
    fake = FakeOpenAI()
    with redis_server() as redis, serve_app(fake.app()) as upstream:
        config = write_config(root, f"{upstream}/v1", redis.url)
        key = create_key(root)
        ports = [free_port(), free_port()]
        processes = [start_gateway(config, port) for port in ports]
        try:
            for port, process in zip(ports, processes, strict=True):
                wait_ready(port, process)
            result = Load(audit_dir=root / "audit")
            asyncio.run(fire(ports, key, result))
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    result.exit_codes.append(process.wait(timeout=30))
                except subprocess.TimeoutExpired:
                    process.kill()
                    raise
        yield result


def test_two_gateways_admit_no_more_than_the_shared_limit(load: Load) -> None:
    refill = math.ceil(load.elapsed_s * LIMIT / 60) + 1
    admitted = load.statuses.count(200)
    assert LIMIT <= admitted <= LIMIT + refill, (admitted, load.elapsed_s)


def test_every_request_is_either_admitted_or_refused_with_429(load: Load) -> None:
    assert set(load.statuses) == {200, 429}


def test_every_refusal_is_well_formed(load: Load) -> None:
    for status, headers, body in zip(load.statuses, load.headers, load.bodies, strict=True):
        if status != 429:
            continue
        assert body["error"]["type"] == "rate_limit_error"
        assert body["error"]["code"] == "rate_limit_exceeded"
        assert int(headers["retry-after"]) >= 1
        assert headers["x-ratelimit-limit-requests"] == str(LIMIT)
        assert headers["x-ratelimit-remaining-requests"] == "0"


def test_both_gateways_stopped_on_sigterm_without_being_killed(load: Load) -> None:
    # uvicorn re-raises the signal after its graceful shutdown: -SIGTERM is a clean exit.
    assert set(load.exit_codes) <= {0, -signal.SIGTERM}


def test_audit_holds_one_record_per_request_after_sigterm(load: Load) -> None:
    records = [
        orjson.loads(line)
        for path in sorted(load.audit_dir.glob("audit-*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    sent = sorted(h["x-request-id"] for h in load.headers)
    assert sorted(r["request_id"] for r in records) == sent
    outcomes = [r["outcome"] for r in records]
    assert outcomes.count("rate_limited") == load.statuses.count(429)


def test_audit_trail_of_both_processes_verifies(load: Load) -> None:
    report = verify_directory(load.audit_dir)
    assert report.ok, [str(p) for p in report.problems]
    assert {end.stream for end in report.ends} == {0, 1}
