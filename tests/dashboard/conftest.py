"""Dashboard fixtures: a real gateway on a real socket, and a signed-in httpx client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.browser import VIEWPORT, chromium
from support.dashboard import sign_in
from support.gateway import make_settings


@pytest.fixture
def gateway_url(tmp_path: Path) -> Iterator[str]:
    """A gateway with no providers, the test master key, state under ``tmp_path``."""
    with serve_app(create_app(make_settings(tmp_path, []))) as url:
        yield url


@pytest.fixture
def ui(gateway_url: str) -> Iterator[tuple[httpx.Client, str]]:
    """``(client, csrf)``: an httpx client signed in with the master key."""
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        yield client, sign_in(client)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module (each test opens its own context).

    Not per session: Playwright's sync API keeps an event loop running on the main thread
    while it is open, and the asyncio tests of later modules could not start theirs."""
    with chromium() as instance:
        yield instance


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page; JavaScript on."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where this test's screenshots go."""
    return tmp_path / "screenshots"
