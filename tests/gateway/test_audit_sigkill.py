"""SIGKILL of a real gateway process under load loses no record of an answered request.

16 clients send chat requests (half of them streamed) to ``securellm gateway`` in front of
the OpenAI wire-format fake; after ``KILL_AFTER`` complete answers the gateway is killed
with SIGKILL at once. The load runs once (module fixture); the tests read the trail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx2 as httpx
import orjson
import pytest

from securellm.gateway.audit.verify import verify_directory
from securellm.gateway.audit.writer import AuditWriter
from support.asgi_server import serve_app
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER
from support.require import free_port

CLIENTS = 16
KILL_AFTER = 400
AUTH = {"authorization": f"Bearer {MASTER}"}


@dataclass
class Killed:
    answered: list[str] = field(default_factory=list)  # request ids of complete 200s
    failed_after_kill: int = 0
    audit_dir: Path = Path()


def _start(root: Path, upstream: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = root / "securellm.toml"
    config.write_text(
        f'data_dir = "{root}/data"\nstate_dir = "{root}/state"\nlog_dir = "{root}/log"\n'
        f'[gateway]\nmaster_key = "{MASTER}"\nport = {port}\n'
        f"[cache]\nenabled = false\n"
        f'[[providers]]\nname = "fake"\nbase_url = "{upstream}"\n'
    )
    argv = [sys.executable, "-m", "securellm", "gateway", "--config", str(config)]
    process = subprocess.Popen(argv, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gateway did not start")


def _complete(raw: bytes, streamed: bool) -> bool:
    """Whether the client got the whole answer: a chat completion, or a stream to [DONE]."""
    if streamed:
        return raw.endswith(b"data: [DONE]\n\n") and b'"error"' not in raw
    try:
        return bool(orjson.loads(raw)["choices"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return False


async def _load(base: str, process: subprocess.Popen[bytes], killed: Killed) -> None:
    stop = asyncio.Event()

    async def client(session: aiohttp.ClientSession, number: int) -> None:
        for i in range(10_000):
            streamed = i % 2 == 0
            body = {
                "model": "fake/echo",
                "messages": [{"role": "user", "content": f"client {number} request {i}"}],
                "stream": streamed,
            }
            try:
                async with session.post(
                    f"{base}/v1/chat/completions", json=body, headers=AUTH
                ) as response:
                    raw = await response.read()
                    answered = response.status == 200 and _complete(raw, streamed)
                    request_id = response.headers.get("x-request-id", "")
            except (aiohttp.ClientError, TimeoutError):
                if stop.is_set():
                    killed.failed_after_kill += 1
                    return
                raise
            if answered:
                killed.answered.append(request_id)
                if len(killed.answered) == KILL_AFTER:
                    process.send_signal(signal.SIGKILL)
                    stop.set()

    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(client(session, n) for n in range(CLIENTS)))


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Killed]:
    root = tmp_path_factory.mktemp("sigkill")
    with serve_app(FakeOpenAI().app()) as upstream:
        process, base = _start(root, f"{upstream}/v1")
        result = Killed(audit_dir=root / "log" / "audit")
        try:
            asyncio.run(_load(base, process, result))
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        yield result


def _records(directory: Path) -> list[dict[str, Any]]:
    found = []
    for path in directory.glob("audit-*.jsonl"):
        for line in path.read_bytes().splitlines():
            try:
                found.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue  # a line torn by the kill
    return found


def test_every_answered_request_has_exactly_one_record(killed: Killed) -> None:
    assert len(killed.answered) >= KILL_AFTER
    counts = Counter(r["request_id"] for r in _records(killed.audit_dir))
    missing = [rid for rid in killed.answered if counts[rid] == 0]
    assert missing == []
    assert {counts[rid] for rid in killed.answered} == {1}


def test_the_killed_gateways_trail_verifies_once_a_writer_has_started(killed: Killed) -> None:
    async def restart() -> None:
        writer = AuditWriter(killed.audit_dir)
        await writer.start()  # what the next gateway start does: repair a torn last line
        await writer.close()

    asyncio.run(restart())
    report = verify_directory(killed.audit_dir)
    assert report.ok, [str(p) for p in report.problems]
    assert report.records >= KILL_AFTER
