"""A real headless Chromium (Debian's), driven by Playwright, for the dashboard's tests.

Screenshots go to the test's own output folder; with ``SECURELLM_SCREENSHOTS=DIR`` set (the
docs' screenshots: ``make screenshots``) they are also copied to ``DIR/<name>.png``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from support.gateway import MASTER
from support.require import require_binary

VIEWPORT = {"width": 1280, "height": 860}


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless (fails under CI=true when it is not installed)."""
    binary = require_binary("chromium")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=binary, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, base_url: str, key: str = MASTER) -> None:
    """Fill the sign-in form as a user would; ends on the overview."""
    page.goto(f"{base_url}/ui/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/ui/")


def screenshot(page: Page, out_dir: Path, name: str) -> Path:
    """Save a full-page PNG as ``out_dir/name.png`` (and under $SECURELLM_SCREENSHOTS)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    docs = os.environ.get("SECURELLM_SCREENSHOTS")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(docs) / f"{name}.png")
    return path
