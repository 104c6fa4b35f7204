"""Admin HTTP endpoints: key management under the master key, enforced on every request."""

from __future__ import annotations

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
    key = create_key(fake_gateway, expires_at="2020-01-01T00:00:00Z")["key"]
    response = chat_with(fake_gateway, key)
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_virtual_key_cannot_use_admin_endpoints(fake_gateway: str) -> None:
    key = create_key(fake_gateway)["key"]
    response = httpx.get(f"{fake_gateway}/admin/keys", headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 401


@pytest.mark.parametrize("spec", [{"name": ""}, {"rpm": 0}, {"period": "week"}, {"colour": "red"}])
def test_invalid_key_spec_is_422(fake_gateway: str, spec: dict[str, Any]) -> None:
    response = httpx.post(f"{fake_gateway}/admin/keys", json={"name": "x", **spec}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["error"]["message"]


def test_revoking_an_unknown_key_is_404(fake_gateway: str) -> None:
    response = httpx.delete(f"{fake_gateway}/admin/keys/key_nothing", headers=ADMIN)
    assert response.status_code == 404
