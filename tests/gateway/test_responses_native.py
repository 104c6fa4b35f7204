"""Official OpenAI SDK ``client.responses`` -> gateway -> OpenAI's own Responses API (a fake
replaying its wire format): relayed natively, with the gateway keeping the state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.fake_responses import RESPONSE_ID, FakeResponses
from support.gateway import MASTER, UPSTREAM_KEY, make_settings


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[str, FakeResponses]]:
    upstream = FakeResponses()
    with serve_app(upstream.app()) as url:
        yield f"{url}/v1", upstream


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gw")


@pytest.fixture(scope="module")
def client(root: Path, fake: tuple[str, FakeResponses]) -> Iterator[openai.OpenAI]:
    url, _ = fake
    provider = {"name": "oa", "kind": "openai", "base_url": url, "api_key": UPSTREAM_KEY,
                "models": ["echo", "tools", "cut"], "retry": {"attempts": 1}}  # fmt: skip
    settings = make_settings(root, [provider])
    with serve_app(create_app(settings)) as base:
        yield openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)


def test_the_upstream_answer_is_relayed(client: openai.OpenAI) -> None:
    response = client.responses.create(model="oa/echo", input="hello native")
    assert response.id == RESPONSE_ID
    assert response.output_text == "hello native"
    assert response.usage is not None and response.usage.output_tokens == 2


def test_the_upstream_is_asked_not_to_store(
    client: openai.OpenAI, fake: tuple[str, FakeResponses]
) -> None:
    client.responses.create(model="oa/echo", input="hi")
    sent = fake[1].requests[-1]
    assert sent.path == "/v1/responses"
    assert sent.body["store"] is False and sent.body["model"] == "echo"
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"


def test_a_continued_response_sends_the_turns_not_the_id(
    client: openai.OpenAI, fake: tuple[str, FakeResponses]
) -> None:
    client.responses.create(model="oa/echo", input="first")
    second = client.responses.create(
        model="oa/echo", input="second", previous_response_id=RESPONSE_ID
    )
    sent = fake[1].requests[-1].body
    assert "previous_response_id" not in sent
    assert [item.get("role") for item in sent["input"]] == ["user", "assistant", "user"]
    assert second.output_text == "second"


def test_a_stream_is_relayed_event_for_event(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="oa/echo", input="one two", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert events[-1].response.output_text == "one two"


def test_a_stream_cut_short_ends_with_response_failed(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="oa/cut", input="one two", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].sequence_number == len(events) - 1
    assert events[-1].response.error is not None
    assert "ended the stream" in events[-1].response.error.message


def _audit_record(root: Path, request_id: str) -> dict[str, Any]:
    found = [
        orjson.loads(line)
        for path in (root / "log" / "audit").glob("audit-*.jsonl")
        for line in path.read_bytes().splitlines()
        if request_id.encode() in line
    ]
    assert len(found) == 1
    record: dict[str, Any] = found[0]
    return record


def test_a_stream_cut_short_is_audited_as_incomplete(client: openai.OpenAI, root: Path) -> None:
    raw = client.responses.with_raw_response.create(model="oa/cut", input="a b", stream=True)
    list(raw.parse())
    record = _audit_record(root, raw.headers["x-request-id"])
    assert record["outcome"] == "incomplete"
    assert record["endpoint"] == "responses"
