"""Signing in to the dashboard, and what happens without a session."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import httpx2 as httpx

from securellm.dashboard.session import COOKIE
from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.dashboard import sign_in
from support.gateway import MASTER, make_settings


def test_a_page_without_a_session_redirects_to_sign_in(gateway_url: str) -> None:
    reply = httpx.get(f"{gateway_url}/ui/", follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/ui/login")


def test_the_master_key_signs_in_and_sees_the_overview(gateway_url: str) -> None:
    with httpx.Client(base_url=gateway_url) as client:
        sign_in(client)
        assert "<h1>Overview</h1>" in client.get("/ui/").text


def test_a_wrong_key_is_refused_with_401(gateway_url: str) -> None:
    reply = httpx.post(f"{gateway_url}/ui/login", data={"key": "sk-wrong"})
    assert reply.status_code == 401
    assert "cannot sign in" in reply.text


def test_signing_out_without_the_csrf_token_is_refused(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    assert client.post("/ui/logout").status_code == 403


def test_signing_out_ends_the_session(ui: tuple[httpx.Client, str]) -> None:
    client, csrf = ui
    client.post("/ui/logout", data={"csrf_token": csrf})
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def _new_key(gateway_url: str, **spec: object) -> str:
    reply = httpx.post(
        f"{gateway_url}/admin/keys",
        json={"name": "someone", **spec},
        headers={"authorization": f"Bearer {MASTER}"},
    )
    assert reply.status_code == 201, reply.text
    key: str = reply.json()["key"]
    return key


def test_a_virtual_key_without_the_admin_scope_is_refused_with_401(gateway_url: str) -> None:
    key = _new_key(gateway_url)
    reply = httpx.post(f"{gateway_url}/ui/login", data={"key": key})
    assert reply.status_code == 401
    assert "cannot sign in" in reply.text


def test_an_admin_virtual_key_signs_in(gateway_url: str) -> None:
    key = _new_key(gateway_url, admin=True)
    with httpx.Client(base_url=gateway_url) as client:
        sign_in(client, key)
        assert "<h1>Overview</h1>" in client.get("/ui/").text


def test_revoking_the_key_ends_its_dashboard_sessions(gateway_url: str) -> None:
    created = httpx.post(
        f"{gateway_url}/admin/keys",
        json={"name": "ops", "admin": True},
        headers={"authorization": f"Bearer {MASTER}"},
    ).json()
    with httpx.Client(base_url=gateway_url) as client:
        sign_in(client, created["key"])
        httpx.delete(
            f"{gateway_url}/admin/keys/{created['id']}",
            headers={"authorization": f"Bearer {MASTER}"},
        )
        assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_a_session_works_on_a_second_gateway_sharing_the_database(
    tmp_path: Path, gateway_url: str
) -> None:
    with httpx.Client(base_url=gateway_url) as client:
        sign_in(client)
        cookie = client.cookies[COOKIE]
    with serve_app(create_app(make_settings(tmp_path, []))) as other:
        reply = httpx.get(f"{other}/ui/", cookies={COOKIE: cookie}, follow_redirects=False)
    assert reply.status_code == 200


def test_the_database_keeps_only_the_hash_of_the_session_id(
    tmp_path: Path, ui: tuple[httpx.Client, str]
) -> None:
    client, _ = ui
    cookie = client.cookies[COOKIE]
    with sqlite3.connect(tmp_path / "data" / "gateway.db") as db:
        stored = [row[0] for row in db.execute("SELECT id_hash FROM dashboard_sessions")]
    assert stored == [hashlib.sha256(cookie.encode()).hexdigest()]


def test_the_sixth_failed_sign_in_in_a_minute_gets_429_with_retry_after(gateway_url: str) -> None:
    for _ in range(5):
        httpx.post(f"{gateway_url}/ui/login", data={"key": "sk-guess"})
    reply = httpx.post(f"{gateway_url}/ui/login", data={"key": MASTER})
    assert reply.status_code == 429
    assert int(reply.headers["retry-after"]) >= 1


def test_a_failed_sign_in_is_audited_without_the_key_presented(gateway_url: str) -> None:
    httpx.post(f"{gateway_url}/ui/login", data={"key": "sk-guess-secret-123"})
    admin = {"authorization": f"Bearer {MASTER}"}
    deadline = time.monotonic() + 10
    records: list[dict[str, object]] = []
    while not records and time.monotonic() < deadline:
        body = httpx.get(f"{gateway_url}/admin/audit", params={"status": 401}, headers=admin)
        records = [r for r in body.json()["data"] if r["endpoint"] == "ui_signin"]
        time.sleep(0.05)
    assert len(records) == 1
    assert "sk-guess-secret-123" not in str(records)
