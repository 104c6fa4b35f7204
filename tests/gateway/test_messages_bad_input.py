"""Invalid requests to ``/v1/messages`` get Anthropic-shaped errors, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2 as httpx
import pytest

from securellm.gateway.app import create_app
from securellm.gateway.validation import MAX_OUTPUT_TOKENS
from support.asgi_server import serve_app
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, make_settings

HEADERS = {"x-api-key": MASTER, "anthropic-version": "2023-06-01"}
GOOD: Any = {
    "model": "fake/echo",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> Iterator[str]:
    provider = {"name": "fake", "base_url": fake_upstream[0], "api_key": UPSTREAM_KEY}
    settings = make_settings(tmp_path_factory.mktemp("gw"), [provider])
    with serve_app(create_app(settings)) as base:
        yield base


def post(
    gateway: str, body: Any = None, *, raw: bytes | None = None, headers: Any = None
) -> httpx.Response:
    return httpx.post(
        f"{gateway}/v1/messages",
        content=raw,
        json=body if raw is None else None,
        headers=HEADERS if headers is None else headers,
        timeout=30,
    )


def anthropic_error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status
    data = response.json()
    assert data["type"] == "error"
    assert set(data["error"]) == {"type", "message"}
    assert data["error"]["type"] == kind
    assert "Traceback" not in response.text
    message: str = data["error"]["message"]
    return message


def test_malformed_json_is_invalid_request_error(gateway: str) -> None:
    anthropic_error(post(gateway, raw=b'{"model": '), 400, "invalid_request_error")


def test_body_that_is_not_an_object_is_400(gateway: str) -> None:
    anthropic_error(post(gateway, raw=b"[1]"), 400, "invalid_request_error")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_tokens", None),
        ("max_tokens", "many"),
        ("max_tokens", 0),
        ("messages", []),
        ("messages", "hi"),
        ("model", 7),
        ("stream", "yes"),
        ("temperature", "hot"),
        ("stop_sequences", "END"),
        ("system", 3),
    ],
)
def test_wrong_field_is_400_naming_the_field(gateway: str, field: str, value: Any) -> None:
    body = {**GOOD, field: value}
    if value is None:
        del body[field]
    message = anthropic_error(post(gateway, body), 400, "invalid_request_error")
    assert field in message


def test_unknown_role_names_the_message(gateway: str) -> None:
    body = {**GOOD, "messages": [{"role": "tool", "content": "hi"}]}
    message = anthropic_error(post(gateway, body), 400, "invalid_request_error")
    assert "messages.0.role" in message


def test_block_without_type_names_the_block(gateway: str) -> None:
    body = {**GOOD, "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    message = anthropic_error(post(gateway, body), 400, "invalid_request_error")
    assert "messages.0.content.0" in message


def test_unsupported_block_is_a_clear_400(gateway: str) -> None:
    document = {"type": "document", "source": {"type": "text", "data": "x"}}
    body = {**GOOD, "messages": [{"role": "user", "content": [document]}]}
    message = anthropic_error(post(gateway, body), 400, "invalid_request_error")
    assert "document" in message


def test_missing_key_is_authentication_error(gateway: str) -> None:
    anthropic_error(post(gateway, GOOD, headers={}), 401, "authentication_error")


def test_unknown_model_is_not_found_error(gateway: str) -> None:
    anthropic_error(post(gateway, {**GOOD, "model": "fake/nope"}), 404, "not_found_error")


def test_sdk_raises_its_own_bad_request_error(gateway: str) -> None:
    client = anthropic.Anthropic(base_url=gateway, api_key=MASTER, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="fake/echo", max_tokens=0, messages=GOOD["messages"])
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_valid_request_after_bad_ones_still_works(gateway: str) -> None:
    post(gateway, raw=b"{")
    response = post(gateway, GOOD)
    assert response.status_code == 200
    assert response.json()["content"][0]["text"] == "hi"


def test_max_tokens_above_the_cap_is_400_naming_the_field(gateway: str) -> None:
    body = {**GOOD, "max_tokens": MAX_OUTPUT_TOKENS + 1}
    message = anthropic_error(post(gateway, body), 400, "invalid_request_error")
    assert "max_tokens" in message


def test_negative_max_tokens_is_400_naming_the_field(gateway: str) -> None:
    message = anthropic_error(
        post(gateway, {**GOOD, "max_tokens": -1}), 400, "invalid_request_error"
    )
    assert "max_tokens" in message


def test_wrong_method_is_405_with_allow_in_anthropic_shape(gateway: str) -> None:
    response = httpx.get(f"{gateway}/v1/messages", headers=HEADERS)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["type"] == "error"
    assert "GET" in response.json()["error"]["message"]
