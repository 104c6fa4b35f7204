"""Provider fixtures: the wire-format fakes on real sockets, and providers pointed at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.asgi_server import serve_app
from support.fake_anthropic import FakeAnthropic
from support.fake_ollama import FakeOllama
from support.fake_openai import FakeOpenAI


@pytest.fixture(scope="module")
def anthropic_url() -> Iterator[tuple[str, FakeAnthropic]]:
    fake = FakeAnthropic()
    with serve_app(fake.app()) as url:
        yield url, fake


@pytest.fixture(scope="module")
def ollama_url() -> Iterator[tuple[str, FakeOllama]]:
    fake = FakeOllama()
    with serve_app(fake.app()) as url:
        yield url, fake


@pytest.fixture(scope="module")
def openai_url() -> Iterator[tuple[str, FakeOpenAI]]:
    fake = FakeOpenAI()
    with serve_app(fake.app()) as url:
        yield f"{url}/v1", fake
