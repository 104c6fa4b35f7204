"""Admin HTTP endpoints: key management under the master key, enforced on every request."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2 as httpx
import openai
import pytest

from support.gateway import MASTER

ADMIN = {"authorization": f"Bearer {MASTER}"}
CHAT = {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]}


def create_key(base: str, **spec: Any) -> dict[str, Any]:
    response = httpx.post(f"{base}/admin/keys", json={"name": "test", **spec}, headers=ADMIN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def chat_with(base: str, key: str, model: str = "fake/echo") -> httpx.Response:
    return httpx.post(
        f"{base}/v1/chat/completions",
        json={**CHAT, "model": model},
        headers={"authorization": f"Bearer {key}"},
    )


def test_created_key_works_with_the_openai_sdk(fake_gateway: str) -> None:
    key = create_key(fake_gateway)["key"]
    client = openai.OpenAI(base_url=f"{fake_gateway}/v1", api_key=key, max_retries=0)
    reply = client.chat.completions.create(model="fake/echo", messages=CHAT["messages"])
    assert reply.choices[0].message.content == "hi"


def test_listing_keys_never_shows_secrets(fake_gateway: str) -> None:
    key = create_key(fake_gateway)["key"]
    listing = httpx.get(f"{fake_gateway}/admin/keys", headers=ADMIN)
    assert listing.status_code == 200
    assert key not in listing.text
    assert "key_hash" not in listing.text


def test_key_limited_to_other_models_gets_403(fake_gateway: str) -> None:
    key = create_key(fake_gateway, models=["fake/tools"])["key"]
    response = chat_with(fake_gateway, key, "fake/echo")
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"


def test_key_limited_to_a_model_may_use_it(fake_gateway: str) -> None:
    key = create_key(fake_gateway, models=["fake/echo"])["key"]
    assert chat_with(fake_gateway, key).status_code == 200


def test_model_list_shows_only_allowed_models(fake_gateway: str) -> None:
    key = create_key(fake_gateway, models=["fake/echo"])["key"]
    listing = httpx.get(f"{fake_gateway}/v1/models", headers={"authorization": f"Bearer {key}"})
    assert [m["id"] for m in listing.json()["data"]] == ["fake/echo"]


def test_revoked_key_gets_401_at_once(fake_gateway: str) -> None:
    created = create_key(fake_gateway)
    assert chat_with(fake_gateway, created["key"]).status_code == 200
    revoked = httpx.delete(f"{fake_gateway}/admin/keys/{created['id']}", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    response = chat_with(fake_gateway, created["key"])
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_expired_key_gets_401(fake_gateway: str) -> None:
    expiry = datetime.now(UTC) + timedelta(seconds=1)
    key = create_key(fake_gateway, expires_at=expiry.isoformat())["key"]
    while datetime.now(UTC) <= expiry:  # let it expire
        time.sleep(0.1)
    response = chat_with(fake_gateway, key)
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_a_key_cannot_be_created_already_expired(fake_gateway: str) -> None:
    spec = {"name": "old", "expires_at": "2020-01-01T00:00:00Z"}
    response = httpx.post(f"{fake_gateway}/admin/keys", json=spec, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "expires_at"


ADMIN_ROUTES = [
    ("GET", "/admin/keys"),
    ("POST", "/admin/keys"),
    ("DELETE", "/admin/keys/anything"),
    ("PATCH", "/admin/keys/anything"),
    ("POST", "/admin/keys/anything/regenerate"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/spend"),
    ("GET", "/admin/cache"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_a_valid_virtual_key_on_an_admin_endpoint_gets_403(
    fake_gateway: str, method: str, path: str
) -> None:
    key = create_key(fake_gateway)["key"]
    headers = {"authorization": f"Bearer {key}"}
    response = httpx.request(method, f"{fake_gateway}{path}", headers=headers, json={})
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer sk-sl-not-a-key"}])
@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_a_missing_or_wrong_key_on_an_admin_endpoint_gets_401(
    fake_gateway: str, method: str, path: str, headers: dict[str, str]
) -> None:
    response = httpx.request(method, f"{fake_gateway}{path}", headers=headers, json={})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_a_second_key_with_a_taken_name_is_a_409(fake_gateway: str) -> None:
    first = create_key(fake_gateway, name="laptop")
    response = httpx.post(f"{fake_gateway}/admin/keys", json={"name": "laptop"}, headers=ADMIN)
    error = response.json()["error"]
    assert response.status_code == 409
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "key_name_taken",
        "name",
    )
    assert first["id"] in error["message"]


def test_patch_changes_a_limit_and_it_applies_at_once(fake_gateway: str) -> None:
    created = create_key(fake_gateway)
    assert chat_with(fake_gateway, created["key"]).status_code == 200
    url = f"{fake_gateway}/admin/keys/{created['id']}"
    patched = httpx.patch(url, json={"models": ["fake/tools"], "rpm": 10}, headers=ADMIN)
    assert patched.status_code == 200
    assert (patched.json()["models"], patched.json()["rpm"]) == (["fake/tools"], 10)
    assert chat_with(fake_gateway, created["key"]).status_code == 403


def test_patch_with_null_clears_a_limit(fake_gateway: str) -> None:
    created = create_key(fake_gateway, rpm=5, budget_usd=1.0)
    url = f"{fake_gateway}/admin/keys/{created['name']}"
    patched = httpx.patch(url, json={"rpm": None, "budget_usd": None}, headers=ADMIN).json()
    assert (patched["rpm"], patched["budget_usd"], patched["period"]) == (None, None, None)


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 422), ({"rpm": 0}, 422), ({"name": "x"}, 422), ({"expires_at": "2020-01-01"}, 422)],
)
def test_a_bad_patch_is_refused(fake_gateway: str, body: dict[str, Any], status: int) -> None:
    created = create_key(fake_gateway)
    response = httpx.patch(f"{fake_gateway}/admin/keys/{created['id']}", json=body, headers=ADMIN)
    assert response.status_code == status
    assert response.json()["error"]["message"]


def test_patching_an_unknown_key_is_404(fake_gateway: str) -> None:
    response = httpx.patch(f"{fake_gateway}/admin/keys/ghost", json={"rpm": 1}, headers=ADMIN)
    assert response.status_code == 404


def test_regenerate_returns_a_new_key_and_the_old_one_stops_at_once(fake_gateway: str) -> None:
    created = create_key(fake_gateway)
    assert chat_with(fake_gateway, created["key"]).status_code == 200
    url = f"{fake_gateway}/admin/keys/{created['id']}/regenerate"
    renewed = httpx.post(url, headers=ADMIN)
    assert renewed.status_code == 200
    assert renewed.json()["id"] == created["id"] and renewed.json()["key"] != created["key"]
    assert chat_with(fake_gateway, created["key"]).status_code == 401
    assert chat_with(fake_gateway, renewed.json()["key"]).status_code == 200


def test_a_revoked_key_cannot_be_regenerated(fake_gateway: str) -> None:
    created = create_key(fake_gateway)
    httpx.delete(f"{fake_gateway}/admin/keys/{created['id']}", headers=ADMIN)
    url = f"{fake_gateway}/admin/keys/{created['id']}/regenerate"
    response = httpx.post(url, headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "key_revoked"


@pytest.mark.parametrize(
    "spec",
    [{"name": ""}, {"rpm": 0}, {"period": "week"}, {"colour": "red"}, {"budget_usd": 1e10}],
)
def test_invalid_key_spec_is_422(fake_gateway: str, spec: dict[str, Any]) -> None:
    response = httpx.post(f"{fake_gateway}/admin/keys", json={"name": "x", **spec}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["error"]["message"]


def test_revoking_an_unknown_key_is_404(fake_gateway: str) -> None:
    response = httpx.delete(f"{fake_gateway}/admin/keys/key_nothing", headers=ADMIN)
    assert response.status_code == 404


def test_an_admin_key_is_created_as_admin_and_may_manage_keys(fake_gateway: str) -> None:
    created = create_key(fake_gateway, name="ops", admin=True)
    headers = {"authorization": f"Bearer {created['key']}"}
    listed = httpx.get(f"{fake_gateway}/admin/keys", headers=headers)
    assert created["admin"] is True
    assert listed.status_code == 200


def test_a_key_is_not_admin_unless_asked(fake_gateway: str) -> None:
    assert create_key(fake_gateway)["admin"] is False


def test_an_admin_key_keeps_its_own_rate_limit(fake_gateway: str) -> None:
    key = create_key(fake_gateway, name="ops", admin=True, rpm=1)["key"]
    statuses = [chat_with(fake_gateway, key).status_code for _ in range(2)]
    assert statuses == [200, 429]
