"""Upstream statuses and broken replies, as a client of either dialect sees them.

A 503 stays a 503 (with ``Retry-After``), other 5xx are 502; a redirect is never
followed; an unreadable stream event ends the stream with the dialect's error event and
the audit record says ``failed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx
import orjson
import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.fake_openai import FakeOpenAI
from support.faulty_upstream import FaultyUpstream
from support.gateway import MASTER, make_settings

OPENAI_AUTH = {"authorization": f"Bearer {MASTER}"}
ANTHROPIC_AUTH = {"x-api-key": MASTER, "anthropic-version": "2023-06-01"}
ASK: Any = [{"role": "user", "content": "hi"}]


@dataclass
class Stack:
    base: str
    upstream: FaultyUpstream
    target: FakeOpenAI  # the origin redirects point at
    target_url: str
    root: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    upstream, target = FaultyUpstream(), FakeOpenAI()
    root = tmp_path_factory.mktemp("faults")
    with serve_app(upstream.app()) as url, serve_app(target.app()) as target_url:
        provider = {
            "name": "flaky",
            "base_url": f"{url}/v1",
            "models": ["echo"],
            "retry": {"attempts": 1},
            "breaker": {"enabled": False},
        }
        settings = make_settings(root, [provider], cache={"enabled": False})
        with serve_app(create_app(settings)) as base:
            yield Stack(base, upstream, target, target_url, root)


def send(stack: Stack, dialect: str, *, stream: bool = False) -> httpx.Response:
    """One request for ``flaky/echo`` in ``dialect``, read whole."""
    if dialect == "anthropic":
        path, headers = "/v1/messages", ANTHROPIC_AUTH
        body: dict[str, Any] = {"model": "flaky/echo", "max_tokens": 16, "messages": ASK}
    else:
        path, headers = "/v1/chat/completions", OPENAI_AUTH
        body = {"model": "flaky/echo", "messages": ASK}
    if stream:
        body["stream"] = True
    return httpx.post(f"{stack.base}{path}", json=body, headers=headers, timeout=30)


def error_of(response: httpx.Response, dialect: str) -> dict[str, Any]:
    data = response.json()
    if dialect == "anthropic":
        assert data["type"] == "error"
    error: dict[str, Any] = data["error"]
    return error


def audit_record(stack: Stack, request_id: str) -> dict[str, Any]:
    found = [
        orjson.loads(line)
        for path in (stack.root / "log" / "audit").glob("audit-*.jsonl")
        for line in path.read_bytes().splitlines()
        if request_id.encode() in line
    ]
    assert len(found) == 1
    record: dict[str, Any] = found[0]
    return record


DIALECTS = ["openai", "anthropic"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_upstream_503_is_relayed_as_503_with_its_retry_after(stack: Stack, dialect: str) -> None:
    stack.upstream.script("echo", ["503-wait"])
    response = send(stack, dialect)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert "overloaded" in error_of(response, dialect)["message"]


@pytest.mark.parametrize("fault", ["500", "502"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_other_upstream_5xx_are_502(stack: Stack, dialect: str, fault: str) -> None:
    stack.upstream.script("echo", [fault])
    response = send(stack, dialect)
    assert response.status_code == 502
    assert error_of(response, dialect)["message"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_upstream_redirect_is_a_502_and_is_not_followed(
    stack: Stack, dialect: str, stream: bool
) -> None:
    host = stack.target_url.removeprefix("http://")
    stack.upstream.redirect_to = (
        f"http://admin:hunter2pass@{host}/v1/chat/completions?token=leaked-token-9"
    )
    stack.upstream.script("echo", ["redirect"])
    before = len(stack.target.requests)
    response = send(stack, dialect, stream=stream)
    assert response.status_code == 502
    message = error_of(response, dialect)["message"]
    assert "redirect" in message
    assert "hunter2pass" not in response.text
    assert "leaked-token-9" not in response.text
    assert len(stack.target.requests) == before


def test_unreadable_stream_event_on_messages_ends_with_an_error_event_and_fails(
    stack: Stack,
) -> None:
    stack.upstream.script("echo", ["malformed"])
    response = send(stack, "anthropic", stream=True)
    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e.strip()]
    assert events[-1].startswith("event: error\n")
    assert "cannot be read" in events[-1]
    assert "message_stop" not in response.text
    record = audit_record(stack, response.headers["x-request-id"])
    assert record["outcome"] == "failed"


def test_unreadable_stream_event_raises_in_the_anthropic_sdk(stack: Stack) -> None:
    stack.upstream.script("echo", ["malformed"])
    client = anthropic.Anthropic(base_url=stack.base, api_key=MASTER, max_retries=0)
    with pytest.raises(anthropic.APIStatusError, match="cannot be read"):  # noqa: PT012
        stream = client.messages.create(
            model="flaky/echo", max_tokens=16, messages=ASK, stream=True
        )
        for _event in stream:
            pass


def test_unreadable_whole_reply_on_messages_is_a_502(stack: Stack) -> None:
    stack.upstream.script("echo", ["malformed"])
    response = send(stack, "anthropic")
    assert response.status_code == 502
    assert "cannot be read" in error_of(response, "anthropic")["message"]
