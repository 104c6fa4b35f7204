"""Official OpenAI SDK ``client.responses`` -> gateway -> an Anthropic upstream (the fake
replaying the Messages wire format)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.fake_anthropic import INPUT_TOKENS, TOOL_USES, FakeAnthropic
from support.gateway import MASTER, UPSTREAM_KEY, make_settings

LOCATION: Any = {"type": "object", "properties": {"location": {"type": "string"}}}
WEATHER: Any = {"type": "function", "name": "get_weather", "parameters": LOCATION}


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[str, FakeAnthropic]]:
    upstream = FakeAnthropic()
    with serve_app(upstream.app()) as url:
        yield url, upstream


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, fake: tuple[str, FakeAnthropic]
) -> Iterator[openai.OpenAI]:
    url, _ = fake
    provider = {"name": "claude", "kind": "anthropic", "base_url": url, "api_key": UPSTREAM_KEY,
                "rpm": 100_000, "retry": {"attempts": 1}}  # fmt: skip
    settings = make_settings(tmp_path_factory.mktemp("gw"), [provider])
    with serve_app(create_app(settings)) as base:
        yield openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)


def test_a_response_is_answered_from_messages(
    client: openai.OpenAI, fake: tuple[str, FakeAnthropic]
) -> None:
    response = client.responses.create(
        model="claude/claude-echo", input="hello claude", instructions="Be brief."
    )
    assert response.output_text == "hello claude"
    assert response.usage is not None and response.usage.input_tokens == INPUT_TOKENS
    sent = fake[1].requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.body["system"] == [{"type": "text", "text": "Be brief."}]


def test_a_streamed_response_ends_completed(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="claude/claude-echo", input="a b c", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert events[-1].response.output_text.split() == ["a", "b", "c"]


def test_tool_uses_come_back_as_function_calls(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model="claude/claude-tools", input="weather?", tools=[WEATHER]
    ) as stream:
        final = stream.get_final_response()
    calls = [(i.call_id, i.name, json.loads(i.arguments)) for i in final.output
             if i.type == "function_call"]  # fmt: skip
    assert calls == [(tid, name, json.loads(args)) for tid, name, args in TOOL_USES]


def test_a_tool_result_is_sent_as_a_tool_result_block(
    client: openai.OpenAI, fake: tuple[str, FakeAnthropic]
) -> None:
    first = client.responses.create(model="claude/claude-tools", input="weather?", tools=[WEATHER])
    calls = [item.model_dump() for item in first.output if item.type == "function_call"]
    outputs = [{"type": "function_call_output", "call_id": c["call_id"], "output": "sunny"}
               for c in calls]  # fmt: skip
    items: Any = [*calls, *outputs]
    client.responses.create(model="claude/claude-echo", input=items, tools=[WEATHER])
    messages = fake[1].requests[-1].body["messages"]
    assert [block["type"] for block in messages[0]["content"]] == ["tool_use"] * len(calls)
    results = messages[1]["content"]
    assert [(b["type"], b["tool_use_id"]) for b in results] == [
        ("tool_result", c["call_id"]) for c in calls
    ]


def test_an_error_mid_stream_ends_with_response_failed(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="claude/claude-error-mid", input="x", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.status == "failed"
