"""Bad input on ``POST /v1/responses``: 400 in OpenAI's error shape, naming the parameter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory

AUTH = {"authorization": f"Bearer {MASTER}"}


@pytest.fixture
def base(gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]) -> Iterator[str]:
    url, _ = fake_upstream
    provider = {"name": "fake", "kind": "openai-compatible", "base_url": url,
                "api_key": UPSTREAM_KEY}  # fmt: skip
    with gateway_for([provider]) as gateway:
        yield gateway


def _post(base: str, body: Any) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.post(f"{base}/v1/responses", content=body, headers=AUTH)
    return httpx.post(f"{base}/v1/responses", json=body, headers=AUTH)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "fake/echo"}, "input"),
        ({"model": "fake/echo", "input": 5}, "input"),
        ({"model": "fake/echo", "input": ["hi"]}, "input[0]"),
        ({"model": "fake/echo", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "fake/echo", "input": [{"role": "user", "content": 3}]}, "input[0].content"),
        (
            {
                "model": "fake/echo",
                "input": [{"type": "function_call", "name": "f", "arguments": "{}"}],
            },
            "input[0].call_id",
        ),
        (
            {
                "model": "fake/echo",
                "input": [{"type": "function_call_output", "call_id": "c", "output": 1}],
            },
            "input[0].output",
        ),
        ({"model": "fake/echo", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "fake/echo", "input": "x", "max_output_tokens": "9"}, "max_output_tokens"),
        ({"model": "fake/echo", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"model": "fake/echo", "input": "x", "tool_choice": "always"}, "tool_choice"),
        ({"model": "fake/echo", "input": "x", "stream": "yes"}, "stream"),
        (
            {"model": "fake/echo", "input": "x", "text": {"format": {"type": "xml"}}},
            "text.format.type",
        ),
        ({"model": "fake/echo", "input": "x", "background": True}, "background"),
    ],
)
def test_a_malformed_body_is_a_400_naming_the_parameter(
    base: str, body: dict[str, Any], param: str
) -> None:
    response = _post(base, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


def test_a_body_that_is_not_a_json_object_is_a_400(base: str) -> None:
    response = _post(base, b"[1, 2]")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_an_image_by_file_id_toward_a_chat_upstream_is_a_400(base: str) -> None:
    part = {"type": "input_image", "file_id": "file-123"}
    body = {"model": "fake/echo", "input": [{"role": "user", "content": [part]}]}
    response = _post(base, body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input[0].content[0]"


def test_an_unknown_previous_response_is_a_404(base: str) -> None:
    response = _post(base, {"model": "fake/echo", "input": "x", "previous_response_id": "resp_x"})
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "previous_response_id"


def test_a_missing_key_is_a_401(base: str) -> None:
    response = httpx.post(f"{base}/v1/responses", json={"model": "fake/echo", "input": "x"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
