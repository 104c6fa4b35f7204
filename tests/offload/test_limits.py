"""Bad input gets 400 and an oversized body 413, in the OpenAI error shape, before any load."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from securellm.core.config import Settings
from securellm.offload.api import create_app

from .conftest import TinyWriter

LIMIT = 4096
CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def client(
    tmp_path: Path, tiny_gguf: TinyWriter, make_settings: Callable[..., Settings]
) -> Iterator[TestClient]:
    tiny_gguf(tmp_path / "models" / "tiny-Q8_0.gguf")
    settings = make_settings(model_dirs=[str(tmp_path / "models")], max_body_bytes=LIMIT)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    return error


def _nothing_loaded(client: TestClient) -> bool:
    return client.get("/health/vram").json()["loaded"] == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"model": "tiny"}, "'messages'"),
        ({"model": "tiny", "messages": []}, "at least one"),
        ({"model": "tiny", "messages": [{"content": "hi"}]}, "role"),
        ({**CHAT, "max_tokens": -1}, "'max_tokens' must be at least 1"),
        ({**CHAT, "max_tokens": "ten"}, "'max_tokens' must be an integer"),
        ({**CHAT, "max_tokens": True}, "'max_tokens' must be an integer"),
        ({**CHAT, "temperature": "hot"}, "'temperature' must be a number"),
        ({**CHAT, "stream": "yes"}, "'stream' must be a boolean"),
        ({**CHAT, "stop": 3}, "'stop'"),
    ],
)
def test_bad_chat_bodies_are_400(client: TestClient, body: dict[str, Any], words: str) -> None:
    error = _refused(client.post("/v1/chat/completions", json=body), 400, "invalid_request")
    assert words in error["message"]
    assert _nothing_loaded(client)


@pytest.mark.parametrize("prompt", ["", "   ", []])
def test_an_empty_prompt_is_400(client: TestClient, prompt: Any) -> None:
    response = client.post("/v1/completions", json={"model": "tiny", "prompt": prompt})
    assert "empty" in _refused(response, 400, "invalid_request")["message"]


def test_a_negative_max_tokens_on_a_completion_is_400(client: TestClient) -> None:
    body = {"model": "tiny", "prompt": "One,", "max_tokens": -5}
    _refused(client.post("/v1/completions", json=body), 400, "invalid_request")


def test_a_body_declared_over_the_limit_is_413(client: TestClient) -> None:
    body = {**CHAT, "messages": [{"role": "user", "content": "x" * LIMIT}]}
    error = _refused(client.post("/v1/chat/completions", json=body), 413, "body_too_large")
    assert "max_body_bytes" in error["message"]
    assert _nothing_loaded(client)


def test_a_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "tiny", "prompt": "'
        for _ in range(8):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/v1/completions", content=chunks(), headers={"content-type": "application/json"}
    )
    _refused(response, 413, "body_too_large")


def test_a_body_under_the_limit_passes_the_check(client: TestClient) -> None:
    body = {"model": "nope", "prompt": "x" * (LIMIT // 2)}
    _refused(client.post("/v1/completions", json=body), 404, "model_not_found")


def test_a_bad_content_length_is_400(client: TestClient) -> None:
    response = client.post("/v1/completions", content=b"{}", headers={"content-length": "lots"})
    assert response.status_code == 400
