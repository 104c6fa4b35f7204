"""Filtering the audit trail in a real browser."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from support.browser import screenshot, sign_in
from support.dashboard_overview import Served, chat, gateway_with_upstream


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with gateway_with_upstream(tmp_path) as server:
        yield server


def test_filtering_by_status_in_the_browser_leaves_only_matching_rows(
    page: Page, served: Served, shots: Path
) -> None:
    for text in ("first", "second"):
        chat(served.url, text=text)
    assert chat(served.url, model="fake/missing") == 404
    sign_in(page, served.url)
    page.goto(f"{served.url}/ui/audit")
    deadline = time.monotonic() + 10
    while page.locator("#audit-table tbody td.status").count() < 3:
        assert time.monotonic() < deadline, "the three requests never reached the table"
        page.reload()
    screenshot(page, shots, "audit")
    page.fill("input[name=status]", "404")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**status=404**")
    assert page.locator("#audit-table tbody td.status").all_inner_texts() == ["404"]
