"""In a real browser: an admin filters the audit trail by model and status."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx
from playwright.sync_api import Page

from support.browser import screenshot, sign_in
from support.dashboard_audit import fill


def test_filtering_by_model_and_status_shows_only_matching_rows(
    page: Page, gateway_url: str, shots: Path
) -> None:
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        fill(client, ["alpha", "beta", "alpha", "gamma"])
    sign_in(page, gateway_url)
    page.click("nav >> text=Audit")
    page.fill("#f-model", "alpha")
    page.fill("#f-status", "404")
    page.click("form.audit-filter button[type=submit]")
    page.wait_for_url("**/ui/audit?*model=alpha*")
    models = page.locator("tr.audit-row td.model").all_inner_texts()
    statuses = page.locator("tr.audit-row td.status").all_inner_texts()
    assert models == ["alpha", "alpha"]
    assert statuses == ["404", "404"]
    screenshot(page, shots, "audit")
