"""Filling the audit trail through a real gateway (dashboard tests)."""

from __future__ import annotations

import time

import httpx2 as httpx

from support.gateway import MASTER

ADMIN = {"authorization": f"Bearer {MASTER}"}


def chat(client: httpx.Client, model: str) -> None:
    """A request the gateway refuses (no such model) but still audits."""
    client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers=ADMIN,
    )


def fill(client: httpx.Client, models: list[str]) -> None:
    for model in models:
        chat(client, model)
    wait_for(client, len(models))


def wait_for(client: httpx.Client, count: int) -> None:
    """Until the index holds ``count`` chat records (the writer inserts in batches)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = client.get("/admin/audit", params={"limit": 1000}, headers=ADMIN).json()["data"]
        if sum(1 for r in rows if r["endpoint"] == "chat") >= count:
            return
        time.sleep(0.05)
    raise AssertionError("the audit index never caught up")
