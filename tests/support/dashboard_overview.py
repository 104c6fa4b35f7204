"""A gateway in front of the faithful OpenAI upstream, for the overview's tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

from securellm.core.config import Settings
from securellm.core.db import create_engine
from securellm.gateway.app import create_app
from securellm.gateway.audit.index import Row, index_for
from support.asgi_server import serve_app
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, make_settings

PRICES = {"fake/echo": {"input": 10_000, "output": 10_000}}  # "hello there": $0.04


@dataclass
class Served:
    url: str
    settings: Settings


@contextmanager
def gateway_with_upstream(tmp_path: Path) -> Iterator[Served]:
    """A gateway whose one provider, ``fake``, is the fake OpenAI upstream; priced, and
    caching every request (so a repeated one is a cache hit)."""
    with serve_app(FakeOpenAI().app()) as upstream:
        provider = {
            "name": "fake",
            "kind": "openai-compatible",
            "base_url": f"{upstream}/v1",
            "api_key": UPSTREAM_KEY,
        }
        settings = make_settings(
            tmp_path,
            [provider],
            gateway={"prices": PRICES},
            cache={"enabled": True, "nondeterministic": True},
        )
        with serve_app(create_app(settings)) as url:
            yield Served(url, settings)


def chat(url: str, model: str = "fake/echo", text: str = "hello there") -> int:
    """One chat completion through the gateway with the master key; returns the status."""
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    headers = {"authorization": f"Bearer {MASTER}"}
    reply = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30)
    return reply.status_code


def figure(html: str, name: str) -> str:
    """The text of the overview's ``data-figure="name"`` card."""
    found = re.search(rf'data-figure="{name}"[^>]*>([^<]*)<', html)
    assert found is not None, f"the overview shows the {name} figure"
    return found.group(1).strip()


def table_rows(html: str, group: str) -> list[list[str]]:
    """The cells of the overview's ``data-group="group"`` table, one list per body row."""
    table = re.search(rf'<table data-group="{group}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert table is not None, f"the overview has the {group} table"
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    return [[c.strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def write_rows(settings: Settings, rows: list[Row]) -> None:
    """Insert audit index rows into the gateway's database through the index's insert path."""

    async def insert() -> None:
        engine = create_engine(settings.database_url)
        index = index_for(engine)
        try:
            await index.insert(rows)
        finally:
            index.close()
            await engine.dispose()

    # In a thread of its own: the session's Playwright browser keeps an event loop running on
    # this thread once any browser test has started, and asyncio.run refuses to nest.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, insert()).result()


def overview_once_indexed(client: httpx.Client, window: str, requests: int) -> str:
    """The overview page once the audit index holds ``requests`` records in ``window``.

    The audit writer feeds the index every ``flush_interval_ms`` (200 ms), so a record can
    reach the page a moment after its response; this waits for it (up to 10 s).
    """
    deadline = time.monotonic() + 10
    while True:
        html = client.get("/ui/", params={"window": window}).text
        if figure(html, "requests") == str(requests) or time.monotonic() > deadline:
            return html
        time.sleep(0.05)
