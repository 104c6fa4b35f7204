"""The overview in a real browser: figures from real requests, and a live block that follows."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx
from playwright.sync_api import Page, expect

from support.browser import screenshot, sign_in
from support.dashboard import sign_in as sign_in_client
from support.dashboard_overview import chat, gateway_with_upstream, overview_once_indexed

LIVE_WAIT_MS = 20_000  # the block refreshes every 5 s


def test_the_overview_shows_real_requests_and_updates_without_a_reload(
    page: Page, tmp_path: Path, shots: Path
) -> None:
    with gateway_with_upstream(tmp_path) as served, httpx.Client(base_url=served.url) as client:
        sign_in_client(client)
        assert chat(served.url, text="first question") == 200
        assert chat(served.url, model="fake/error-500") == 502
        overview_once_indexed(client, "hour", 2)

        sign_in(page, served.url)
        page.get_by_role("link", name="Last hour").click()
        page.wait_for_url(f"{served.url}/ui/?window=hour")
        requests = page.locator('[data-figure="requests"]')
        expect(requests).to_have_text("2")
        expect(page.locator('[data-figure="errors"]')).to_have_text("1")
        expect(page.locator('table[data-group="provider"] tbody th')).to_have_text(["fake"])
        expect(page.get_by_role("img", name="Spend per model")).to_be_visible()
        page.evaluate("window.notReloaded = true")

        assert chat(served.url, text="second question") == 200
        expect(requests).to_have_text("3", timeout=LIVE_WAIT_MS)
        assert page.evaluate("window.notReloaded === true")
        screenshot(page, shots, "overview")
