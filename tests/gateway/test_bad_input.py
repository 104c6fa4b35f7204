"""Bad input and broken upstreams get clear OpenAI-shaped errors with the right status."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from securellm.gateway.validation import MAX_OUTPUT_TOKENS
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, GatewayFactory
from support.require import free_port

AUTH = {"authorization": f"Bearer {MASTER}"}
CHAT = {"model": "fake/echo", "messages": [{"role": "user", "content": "hi"}]}


def post(
    base: str, body: Any = None, *, raw: bytes | None = None, headers: Any = None
) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/chat/completions",
        content=raw,
        json=body if raw is None else None,
        headers=headers if headers is not None else AUTH,
        timeout=30,
    )


def assert_openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert "Traceback" not in response.text
    return error


def test_malformed_json_is_400(fake_gateway: str) -> None:
    error = assert_openai_error(post(fake_gateway, raw=b'{"model": "fake/echo", '), 400)
    assert "not valid JSON" in error["message"]


def test_json_that_is_not_an_object_is_422(fake_gateway: str) -> None:
    assert_openai_error(post(fake_gateway, raw=b"[1, 2, 3]"), 422)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("messages", "hi"),
        ("messages", []),
        ("model", 42),
        ("stream", "yes"),
        ("max_tokens", "many"),
    ],
)
def test_wrong_types_are_422_naming_the_field(fake_gateway: str, field: str, value: Any) -> None:
    error = assert_openai_error(post(fake_gateway, {**CHAT, field: value}), 422)
    assert error["param"] == field


def test_missing_model_is_422(fake_gateway: str) -> None:
    body = {"messages": CHAT["messages"]}
    assert assert_openai_error(post(fake_gateway, body), 422)["param"] == "model"


def test_body_over_the_limit_is_413(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    url, _ = fake_upstream
    provider = {"name": "fake", "base_url": url}
    with gateway_for([provider], gateway={"max_body_bytes": 2048}) as base:
        huge = {**CHAT, "messages": [{"role": "user", "content": "x" * 10_000}]}
        assert_openai_error(post(base, huge), 413)


def test_unknown_model_is_404(fake_gateway: str) -> None:
    error = assert_openai_error(post(fake_gateway, {**CHAT, "model": "fake/nope"}), 404)
    assert error["code"] == "model_not_found"


def test_unknown_provider_is_404(fake_gateway: str) -> None:
    error = assert_openai_error(post(fake_gateway, {**CHAT, "model": "nobody/echo"}), 404)
    assert "unknown provider" in error["message"]


def test_missing_key_is_401(fake_gateway: str) -> None:
    assert_openai_error(post(fake_gateway, CHAT, headers={}), 401)


def test_wrong_key_is_401(fake_gateway: str) -> None:
    response = post(fake_gateway, CHAT, headers={"authorization": "Bearer sk-sl-wrong"})
    assert assert_openai_error(response, 401)["type"] == "authentication_error"


def test_unknown_route_is_404_in_openai_shape(fake_gateway: str) -> None:
    assert_openai_error(httpx.get(f"{fake_gateway}/v1/nothing", headers=AUTH), 404)


def test_upstream_4xx_keeps_its_status_and_message(fake_gateway: str) -> None:
    error = assert_openai_error(post(fake_gateway, {**CHAT, "model": "fake/error-400"}), 400)
    assert "temperature" in error["message"]


def test_upstream_5xx_is_502(fake_gateway: str) -> None:
    assert_openai_error(post(fake_gateway, {**CHAT, "model": "fake/error-500"}), 502)


def test_upstream_429_is_429_with_retry_after(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    url, _ = fake_upstream
    no_retry = {"name": "fake", "base_url": url, "retry": {"attempts": 1}}
    with gateway_for([no_retry]) as base:
        response = post(base, {**CHAT, "model": "fake/rate-limited"})
    assert_openai_error(response, 429)
    assert response.headers["retry-after"] == "7"


@pytest.fixture
def down_gateway(gateway_for: GatewayFactory) -> Iterator[str]:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with gateway_for([{"name": "down", "base_url": dead, "models": ["m"]}]) as base:
        yield base


def test_upstream_down_is_502(down_gateway: str) -> None:
    error = assert_openai_error(post(down_gateway, {**CHAT, "model": "down/m"}), 502)
    assert "unreachable" in error["message"]


def test_upstream_timeout_is_504(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    url, _ = fake_upstream
    with gateway_for([{"name": "fake", "base_url": url, "timeout_s": 0.5}]) as base:
        assert_openai_error(post(base, {**CHAT, "model": "fake/slow"}), 504)


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("value", [-1, 0, 10**12])
def test_output_token_limit_out_of_range_is_400_and_not_sent_upstream(
    fake_gateway: str, fake_upstream: tuple[str, FakeOpenAI], field: str, value: int
) -> None:
    _, recorder = fake_upstream
    before = len(recorder.requests)
    error = assert_openai_error(post(fake_gateway, {**CHAT, field: value}), 400)
    assert error["param"] == field
    assert len(recorder.requests) == before


def test_output_token_limit_at_the_cap_is_accepted(fake_gateway: str) -> None:
    assert post(fake_gateway, {**CHAT, "max_tokens": MAX_OUTPUT_TOKENS}).status_code == 200


def test_wrong_method_is_405_with_allow_in_openai_shape(fake_gateway: str) -> None:
    response = httpx.get(f"{fake_gateway}/v1/chat/completions", headers=AUTH)
    error = assert_openai_error(response, 405)
    assert response.headers["allow"] == "POST"
    assert "GET" in error["message"]
