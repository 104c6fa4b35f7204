"""Dashboard security: sessions required, CSRF on changes, strict headers, cookie flags."""

from __future__ import annotations

import httpx2 as httpx
import pytest

from support.gateway import MASTER

PAGES = ["/ui/", "/ui/keys"]


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_cookie_redirects_to_sign_in(gateway_url: str, path: str) -> None:
    reply = httpx.get(f"{gateway_url}{path}", follow_redirects=False)
    assert reply.status_code == 303


@pytest.mark.parametrize("path", ["/ui/keys", "/ui/keys/key_0000000000000000/revoke"])
def test_a_post_without_the_csrf_token_is_refused(ui: tuple[httpx.Client, str], path: str) -> None:
    assert ui[0].post(path, data={"name": "x"}).status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_every_page_carries_the_strict_headers(ui: tuple[httpx.Client, str], path: str) -> None:
    headers = ui[0].get(path).headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"


def test_the_session_cookie_is_httponly_and_samesite_strict(gateway_url: str) -> None:
    reply = httpx.post(f"{gateway_url}/ui/login", data={"key": MASTER}, follow_redirects=False)
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
