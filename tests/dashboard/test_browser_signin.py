"""Signing in and out in a real browser."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from support.browser import screenshot, sign_in


def test_signing_in_in_a_browser_lands_on_the_overview(
    page: Page, gateway_url: str, shots: Path
) -> None:
    sign_in(page, gateway_url)
    assert page.locator("h1").inner_text() == "Overview"
    assert screenshot(page, shots, "signed-in").stat().st_size > 0


def test_after_signing_out_the_browser_is_sent_back_to_sign_in(
    page: Page, gateway_url: str
) -> None:
    sign_in(page, gateway_url)
    page.click("form.signout button")
    page.goto(f"{gateway_url}/ui/")
    assert "/ui/login" in page.url
    assert page.locator("h1").inner_text() == "Sign in"
