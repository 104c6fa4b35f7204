"""Signing a client in to the dashboard (tests and benchmarks)."""

from __future__ import annotations

import re

import httpx2 as httpx

from support.gateway import MASTER

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def sign_in(client: httpx.Client, key: str = MASTER) -> str:
    """Sign ``client`` in; returns the session's CSRF token (read from the page)."""
    reply = client.post("/ui/login", data={"key": key, "next": "/ui/"}, follow_redirects=True)
    assert reply.status_code == 200, reply.text
    found = CSRF_META.search(reply.text)
    assert found is not None, "a signed-in page carries the CSRF meta tag"
    return found.group(1)
