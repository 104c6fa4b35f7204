"""OpenAI SDK -> gateway -> Anthropic upstream (the fake replaying the documented wire format)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.fake_anthropic import INPUT_TOKENS, THINKING, TOOL_USES, FakeAnthropic
from support.gateway import MASTER, UPSTREAM_KEY, make_settings

NO_RETRY: Any = {"retry": {"attempts": 1}}
NO_CACHE: Any = {"cache": {"enabled": False}}
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        },
    }
]
ASK: Any = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "weather in San Francisco and the time"},
]


@pytest.fixture(scope="module")
def fake_claude() -> Iterator[tuple[str, FakeAnthropic]]:
    fake = FakeAnthropic()
    with serve_app(fake.app()) as url:
        yield url, fake


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, fake_claude: tuple[str, FakeAnthropic]
) -> Iterator[openai.OpenAI]:
    url, _ = fake_claude
    provider = {
        "name": "claude",
        "kind": "anthropic",
        "base_url": url,
        "api_key": UPSTREAM_KEY,
        "rpm": 100_000,  # the preset protects a real account: 50/min, burst 5
    }
    settings = make_settings(tmp_path_factory.mktemp("gw"), [{**provider, **NO_RETRY}], **NO_CACHE)
    with serve_app(create_app(settings)) as base:
        yield openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)


def stream_tool_calls(chunks: list[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ids: dict[int, str] = {}
    names: dict[int, str] = {}
    arguments: dict[int, str] = {}
    for chunk in chunks:
        for call in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            if call.id:
                ids[call.index] = call.id
            if call.function and call.function.name:
                names[call.index] = call.function.name
            if call.function and call.function.arguments:
                arguments[call.index] = arguments.get(call.index, "") + call.function.arguments
    return [(ids[i], names[i], json.loads(arguments[i])) for i in sorted(ids)]


EXPECTED_CALLS = [(tid, name, json.loads(args)) for tid, name, args in TOOL_USES]


def test_models_are_discovered_from_the_anthropic_models_endpoint(client: openai.OpenAI) -> None:
    assert "claude/claude-echo" in [m.id for m in client.models.list()]


def test_chat_reply_is_translated_with_usage(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="claude/claude-echo", messages=ASK)
    assert reply.choices[0].message.content == ASK[1]["content"]
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == INPUT_TOKENS


def test_upstream_gets_anthropic_headers_system_and_default_max_tokens(
    client: openai.OpenAI, fake_claude: tuple[str, FakeAnthropic]
) -> None:
    _, fake = fake_claude
    client.chat.completions.create(model="claude/claude-echo", messages=ASK)
    sent = fake.requests[-1]
    assert sent.headers["x-api-key"] == UPSTREAM_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body["system"] == [{"type": "text", "text": "Be brief."}]
    assert sent.body["max_tokens"] > 0
    assert sent.body["messages"] == [{"role": "user", "content": ASK[1]["content"]}]


def test_parallel_tool_calls_are_translated(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="claude/claude-tools", messages=ASK, tools=TOOLS)
    calls = reply.choices[0].message.tool_calls or []
    got = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls]  # type: ignore[union-attr]
    assert got == EXPECTED_CALLS
    assert reply.choices[0].finish_reason == "tool_calls"


def test_tool_choice_required_becomes_any(
    client: openai.OpenAI, fake_claude: tuple[str, FakeAnthropic]
) -> None:
    _, fake = fake_claude
    client.chat.completions.create(
        model="claude/claude-tools", messages=ASK, tools=TOOLS, tool_choice="required"
    )
    assert fake.requests[-1].body["tool_choice"] == {"type": "any"}
    assert fake.requests[-1].body["tools"][0]["input_schema"]["properties"] == {
        "location": {"type": "string"}
    }


def test_streamed_text_arrives_in_order_and_ends_with_stop(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(model="claude/claude-echo", messages=ASK, stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.split() == ASK[1]["content"].split()
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_streamed_parallel_tool_arguments_reassemble_exactly(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="claude/claude-tools", messages=ASK, tools=TOOLS, stream=True
        )
    )
    assert stream_tool_calls(chunks) == EXPECTED_CALLS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_empty_text_block_before_tools_adds_no_content(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="claude/claude-empty", messages=ASK, tools=TOOLS, stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ""
    assert stream_tool_calls(chunks) == EXPECTED_CALLS


def test_stream_usage_is_shown_when_the_client_asks(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="claude/claude-echo",
            messages=ASK,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens == INPUT_TOKENS
    assert usage.completion_tokens == len(ASK[1]["content"].split())


def test_thinking_arrives_as_reasoning_content(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="claude/claude-thinking", messages=ASK)
    message: Any = reply.choices[0].message
    assert message.content == "Paris."
    assert message.reasoning_content == THINKING


def test_error_event_mid_stream_raises_in_the_openai_sdk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="claude/claude-error-mid", messages=ASK, stream=True
    )
    with pytest.raises(openai.APIError, match="Overloaded"):
        list(stream)


def test_overloaded_529_keeps_its_status_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="claude/claude-overloaded", messages=ASK)
    assert caught.value.status_code == 529
    assert "Overloaded" in str(caught.value.message)


def test_rate_limit_429_passes_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="claude/claude-rate-limited", messages=ASK)
    assert caught.value.response.headers["retry-after"] == "11"


def test_tool_results_go_back_as_tool_result_blocks(
    client: openai.OpenAI, fake_claude: tuple[str, FakeAnthropic]
) -> None:
    _, fake = fake_claude
    tid, name, args = TOOL_USES[0]
    history: Any = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": tid, "type": "function", "function": {"name": name, "arguments": args}}]},
        {"role": "tool", "tool_call_id": tid, "content": "18 C and sunny"},
    ]  # fmt: skip
    reply = client.chat.completions.create(model="claude/claude-echo", messages=history)
    sent = fake.requests[-1].body["messages"]
    assert sent[1]["content"] == [
        {"type": "tool_use", "id": tid, "name": name, "input": json.loads(args)}
    ]
    assert sent[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": tid, "content": "18 C and sunny"}],
    }
    assert "18 C and sunny" in (reply.choices[0].message.content or "")


def test_client_disconnect_mid_stream_closes_the_upstream_stream(
    client: openai.OpenAI, fake_claude: tuple[str, FakeAnthropic]
) -> None:
    _, fake = fake_claude
    long_ask = [{"role": "user", "content": " ".join(["word"] * 40)}]
    stream = client.chat.completions.create(
        model="claude/claude-slow", messages=long_ask, stream=True
    )
    next(iter(stream))
    stream.close()
    deadline = time.monotonic() + 10
    while "claude-slow" not in fake.abandoned and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "claude-slow" in fake.abandoned
    reply = client.chat.completions.create(model="claude/claude-echo", messages=ASK)
    assert reply.choices[0].message.content
