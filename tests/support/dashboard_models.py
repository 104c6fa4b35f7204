"""A gateway whose providers are offload hosts, and a signed-in client, for ``/ui/models``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.dashboard import sign_in
from support.gateway import make_settings


def offload_provider(name: str, base: str) -> dict[str, str]:
    return {"name": name, "kind": "offload", "base_url": f"{base}/v1"}


@contextmanager
def gateway_with_hosts(tmp_path: Path, hosts: dict[str, str]) -> Iterator[str]:
    """A real gateway with one ``offload`` provider per ``name -> base URL``."""
    providers = [offload_provider(name, base) for name, base in hosts.items()]
    with serve_app(create_app(make_settings(tmp_path, providers))) as url:
        yield url


@contextmanager
def signed_in(url: str) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(base_url=url, timeout=200) as client:
        yield client, sign_in(client)
