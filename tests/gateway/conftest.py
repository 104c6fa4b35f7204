"""Gateway fixtures: a faithful OpenAI upstream, and real gateways on real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.fake_openai import FakeOpenAI
from support.gateway import UPSTREAM_KEY, GatewayFactory, make_settings


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[tuple[str, FakeOpenAI]]:
    """The OpenAI wire-format upstream: ``(base_url ending in /v1, recorder)``."""
    fake = FakeOpenAI()
    with serve_app(fake.app()) as url:
        yield f"{url}/v1", fake


@pytest.fixture
def gateway_for(tmp_path: Path) -> GatewayFactory:
    """``with gateway_for(providers, **extra) as base_url:`` runs a real gateway on a port."""

    @contextmanager
    def run(providers: list[dict[str, Any]], **extra: Any) -> Iterator[str]:
        settings = make_settings(tmp_path, providers, **extra)
        with serve_app(create_app(settings)) as url:
            yield url

    return run


@pytest.fixture
def fake_gateway(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> Iterator[str]:
    """A gateway with one provider, ``fake``, in front of the faithful OpenAI upstream."""
    url, _ = fake_upstream
    provider = {
        "name": "fake",
        "kind": "openai-compatible",
        "base_url": url,
        "api_key": UPSTREAM_KEY,
    }
    with gateway_for([provider]) as base:
        yield base
