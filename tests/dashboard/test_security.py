"""Dashboard security: sessions required, CSRF on changes, strict headers, cookie flags."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx
import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.dashboard import sign_in
from support.gateway import MASTER, UPSTREAM_KEY, make_settings

PAGES = ["/ui/", "/ui/keys", "/ui/audit", "/ui/models", "/ui/knowledge"]
APIS = ["/ui/api/overview", "/ui/api/models", "/ui/api/audit/verify"]


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_cookie_redirects_to_sign_in(gateway_url: str, path: str) -> None:
    reply = httpx.get(f"{gateway_url}{path}", follow_redirects=False)
    assert reply.status_code == 303


@pytest.mark.parametrize("path", APIS)
def test_an_api_fragment_without_a_cookie_is_401(gateway_url: str, path: str) -> None:
    assert httpx.get(f"{gateway_url}{path}").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/ui/keys",
        "/ui/keys/key_0000000000000000/revoke",
        "/ui/api/audit/verify",
        "/ui/knowledge/1/delete",
        "/ui/models/action",
        "/ui/logout",
    ],
)
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


def test_no_page_or_fragment_shows_the_master_key_or_an_upstream_key(tmp_path: Path) -> None:
    provider = {
        "name": "cloud",
        "kind": "openai-compatible",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": UPSTREAM_KEY,
    }
    app = create_app(make_settings(tmp_path, [provider]))
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        sign_in(client)
        for path in [*PAGES, *APIS]:
            reply = client.get(path)
            assert reply.status_code < 500, path
            assert MASTER not in reply.text, path
            assert UPSTREAM_KEY not in reply.text, path
            assert "x-frame-options" in reply.headers, path
