"""Anthropic SDK -> gateway ``/v1/messages`` -> an OpenAI upstream and an Anthropic upstream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2 as httpx
import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.fake_anthropic import INPUT_TOKENS, FakeAnthropic, stream_events
from support.fake_openai import TOOL_CALLS, FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, make_settings

NO_RETRY: Any = {"retry": {"attempts": 1}}
NO_CACHE: Any = {"cache": {"enabled": False}}
TOOLS: Any = [
    {
        "name": "get_weather",
        "description": "Weather of a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
ASK: Any = [{"role": "user", "content": "weather in Lisboa and the time"}]


@pytest.fixture(scope="module")
def fake_claude() -> Iterator[tuple[str, FakeAnthropic]]:
    fake = FakeAnthropic()
    with serve_app(fake.app()) as url:
        yield url, fake


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: tuple[str, FakeOpenAI],
    fake_claude: tuple[str, FakeAnthropic],
) -> Iterator[str]:
    fake = {"name": "fake", "base_url": fake_upstream[0], "api_key": UPSTREAM_KEY}
    claude = {
        "name": "claude",
        "kind": "anthropic",
        "base_url": fake_claude[0],
        "api_key": UPSTREAM_KEY,
        "rpm": 100_000,  # the preset protects a real account: 50/min, burst 5
    }
    providers = [{**fake, **NO_RETRY}, {**claude, **NO_RETRY}]
    settings = make_settings(tmp_path_factory.mktemp("gw"), providers, **NO_CACHE)
    with serve_app(create_app(settings)) as base:
        yield base


@pytest.fixture
def client(gateway: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway, api_key=MASTER, max_retries=0)


def test_text_reply_from_an_openai_upstream(client: anthropic.Anthropic) -> None:
    reply = client.messages.create(model="fake/echo", max_tokens=64, messages=ASK)
    assert reply.content[0].type == "text"
    assert reply.content[0].text == ASK[0]["content"]
    assert reply.stop_reason == "end_turn"
    assert reply.usage.output_tokens == len(ASK[0]["content"].split())


def test_openai_upstream_gets_system_and_max_tokens(
    client: anthropic.Anthropic, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    client.messages.create(model="fake/echo", max_tokens=64, system="Be brief.", messages=ASK)
    sent = fake_upstream[1].requests[-1].body
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, *ASK]
    assert sent["max_tokens"] == 64


def test_tool_calls_from_an_openai_upstream_become_tool_use(client: anthropic.Anthropic) -> None:
    reply = client.messages.create(model="fake/tools", max_tokens=64, messages=ASK, tools=TOOLS)
    uses = [(b.id, b.name, b.input) for b in reply.content if b.type == "tool_use"]
    assert uses == [(cid, name, json.loads(args)) for cid, name, args in TOOL_CALLS]
    assert reply.stop_reason == "tool_use"


def test_streamed_text_from_an_openai_upstream(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model="fake/echo", max_tokens=64, messages=ASK) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.split() == ASK[0]["content"].split()
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len(ASK[0]["content"].split())
    assert final.usage.input_tokens > 0


def test_streamed_tool_calls_from_an_openai_upstream(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model="fake/tools", max_tokens=64, messages=ASK, tools=TOOLS
    ) as stream:
        final = stream.get_final_message()
    uses = [(b.id, b.name, b.input) for b in final.content if b.type == "tool_use"]
    assert uses == [(cid, name, json.loads(args)) for cid, name, args in TOOL_CALLS]
    assert final.stop_reason == "tool_use"


def test_tool_results_reach_an_openai_upstream_as_tool_messages(
    client: anthropic.Anthropic, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    cid, name, args = TOOL_CALLS[0]
    use = {"type": "tool_use", "id": cid, "name": name, "input": json.loads(args)}
    result = {"type": "tool_result", "tool_use_id": cid, "content": "18 C"}
    history: Any = [
        *ASK,
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [result]},
    ]
    client.messages.create(model="fake/echo", max_tokens=64, messages=history, tools=TOOLS)
    sent = fake_upstream[1].requests[-1].body["messages"]
    assert sent[1]["tool_calls"][0]["id"] == cid
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == args.replace(" ", "")
    assert sent[2] == {"role": "tool", "tool_call_id": cid, "content": "18 C"}


def test_upstream_error_status_comes_back_anthropic_shaped(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="fake/rate-limited", max_tokens=64, messages=ASK)
    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


def test_anthropic_upstream_is_relayed_unchanged(client: anthropic.Anthropic) -> None:
    reply = client.messages.create(model="claude/claude-thinking", max_tokens=64, messages=ASK)
    assert [b.type for b in reply.content] == ["thinking", "text"]
    assert reply.usage.input_tokens == INPUT_TOKENS


def test_anthropic_upstream_stream_is_relayed_byte_for_byte(gateway: str) -> None:
    body = {"model": "claude/claude-tools", "max_tokens": 64, "messages": ASK, "stream": True}
    response = httpx.post(
        f"{gateway}/v1/messages", json=body, headers={"x-api-key": MASTER}, timeout=30
    )
    expected = b"".join(stream_events({"model": "claude-tools", "messages": ASK}))
    assert response.content == expected


def test_anthropic_upstream_overloaded_is_529_overloaded_error(
    client: anthropic.Anthropic,
) -> None:
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="claude/claude-overloaded", max_tokens=64, messages=ASK)
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_error_event_mid_stream_reaches_the_anthropic_sdk(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):  # noqa: SIM117
        with client.messages.stream(
            model="claude/claude-error-mid", max_tokens=64, messages=ASK
        ) as stream:
            stream.get_final_message()


def test_count_tokens_is_relayed_to_an_anthropic_upstream(client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(model="claude/claude-echo", messages=ASK)
    assert counted.input_tokens > 0


def test_count_tokens_on_an_openai_upstream_is_an_estimate(client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.count_tokens(model="fake/echo", messages=ASK)
    assert raw.parse().input_tokens > 0
    assert raw.headers["x-securellm-token-count"] == "estimate"


def test_anthropic_beta_features_reach_an_anthropic_upstream(
    client: anthropic.Anthropic, fake_claude: tuple[str, FakeAnthropic]
) -> None:
    beta = "interleaved-thinking-2025-05-14"
    client.messages.create(
        model="claude/claude-thinking",
        max_tokens=64,
        messages=ASK,
        extra_headers={"anthropic-beta": beta, "cache-control": "no-cache"},
    )
    assert fake_claude[1].requests[-1].headers["anthropic-beta"] == beta


def test_model_list_comes_in_anthropic_shape_to_the_anthropic_sdk(
    client: anthropic.Anthropic,
) -> None:
    page = client.models.list()
    ids = [model.id for model in page.data]
    assert "claude/claude-tools" in ids
    assert all(model.type == "model" for model in page.data)
    assert page.has_more is False
