"""Every provider knows a stream's usage when it ends, however it ends."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from securellm.core.config import ProviderSettings
from securellm.core.errors import UpstreamError
from securellm.providers.base import Call, Provider, UpstreamResponse
from securellm.providers.registry import build_provider
from support.fake_anthropic import INPUT_TOKENS, FakeAnthropic
from support.fake_ollama import PROMPT_EVAL_COUNT, FakeOllama
from support.fake_openai import FakeOpenAI

DELTA = re.compile(rb'content_block_delta|"content":"[^"]')  # Anthropic's, or OpenAI's text
CHAT: Any = {"messages": [{"role": "user", "content": "one two three four"}], "stream": True}
MESSAGES: Any = {**CHAT, "max_tokens": 32}


async def started(settings: dict[str, Any]) -> Provider:
    provider = build_provider(ProviderSettings(**settings))
    await provider.start()
    return provider


async def drain(response: UpstreamResponse) -> list[bytes]:
    assert response.stream is not None
    return [event async for event in response.stream]


def call(model: str, body: Any) -> Call:
    return Call(model=model, body=body, stream=bool(body.get("stream")), request_id="req_test")


@pytest.fixture
async def claude(anthropic_url: tuple[str, FakeAnthropic]) -> AsyncIterator[Provider]:
    provider = await started(
        {"name": "claude", "kind": "anthropic", "base_url": anthropic_url[0], "api_key": "k"}
    )
    yield provider
    await provider.close()


@pytest.fixture
async def ollama(ollama_url: tuple[str, FakeOllama]) -> AsyncIterator[Provider]:
    provider = await started({"name": "ollama", "kind": "ollama", "base_url": ollama_url[0]})
    yield provider
    await provider.close()


@pytest.fixture
async def openai_compat(openai_url: tuple[str, FakeOpenAI]) -> AsyncIterator[Provider]:
    provider = await started({"name": "fake", "base_url": openai_url[0]})
    yield provider
    await provider.close()


async def test_anthropic_passthrough_stream_reports_usage(claude: Provider) -> None:
    response = await claude.messages(call("claude-echo", MESSAGES))
    await drain(response)
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (INPUT_TOKENS, 4)
    assert response.complete


async def test_translated_stream_counts_usage_the_client_did_not_ask_for(claude: Provider) -> None:
    response = await claude.chat(call("claude-echo", CHAT))
    events = await drain(response)
    assert not any(b'"usage"' in e for e in events)
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (INPUT_TOKENS, 4)
    assert response.complete


async def test_client_disconnect_keeps_the_input_usage(claude: Provider) -> None:
    response = await claude.chat(call("claude-slow", CHAT))
    assert response.stream is not None
    await anext(response.stream)
    await response.stream.aclose()  # type: ignore[attr-defined]
    assert response.usage.prompt_tokens == INPUT_TOKENS
    assert not response.complete


async def _leave_after_two_deltas(response: UpstreamResponse) -> list[bytes]:
    """Read until two content deltas went by, then hang up (before the output count)."""
    assert response.stream is not None
    seen: list[bytes] = []
    async for event in response.stream:
        seen.append(event)
        if sum(bool(DELTA.search(e)) for e in seen) >= 2:
            break
    await response.stream.aclose()  # type: ignore[attr-defined]
    return seen


async def test_a_passthrough_stream_left_before_its_output_count_counts_each_delta(
    claude: Provider,
) -> None:
    response = await claude.messages(call("claude-slow", MESSAGES))
    await _leave_after_two_deltas(response)
    assert not response.complete
    assert response.usage.completion_tokens >= 2


async def test_a_translated_stream_left_before_its_output_count_counts_each_delta(
    claude: Provider,
) -> None:
    response = await claude.chat(call("claude-slow", CHAT))
    await _leave_after_two_deltas(response)
    assert not response.complete
    assert response.usage.completion_tokens >= 2


async def test_error_event_mid_stream_ends_the_stream_as_failed(claude: Provider) -> None:
    response = await claude.chat(call("claude-error-mid", CHAT))
    events = await drain(response)
    assert b"overloaded_error" in events[-2]
    assert events[-1] == b"data: [DONE]\n\n"
    assert not response.complete
    assert response.failure is not None
    assert response.usage.prompt_tokens == INPUT_TOKENS


async def test_ollama_stream_usage_comes_from_the_done_line(ollama: Provider) -> None:
    response = await ollama.chat(call("llama-echo:latest", CHAT))
    await drain(response)
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (
        PROMPT_EVAL_COUNT,
        4,
    )
    assert response.complete


async def test_ollama_error_line_ends_the_stream_as_failed(ollama: Provider) -> None:
    response = await ollama.chat(call("llama-error-mid:latest", CHAT))
    events = await drain(response)
    assert b'"error"' in events[-2]
    assert events[-1] == b"data: [DONE]\n\n"
    assert not response.complete
    assert response.failure is not None


async def test_messages_over_openai_asks_the_upstream_for_usage(
    openai_compat: Provider, openai_url: tuple[str, FakeOpenAI]
) -> None:
    response = await openai_compat.messages(call("echo", MESSAGES))
    events = await drain(response)
    assert openai_url[1].requests[-1].body["stream_options"] == {"include_usage": True}
    assert response.usage.completion_tokens == 4
    assert events[-1].startswith(b"event: message_stop")
    assert response.complete


async def test_messages_over_openai_estimates_when_upstream_sends_no_usage(
    openai_compat: Provider,
) -> None:
    response = await openai_compat.messages(call("no-usage", MESSAGES))
    events = await drain(response)
    delta = next(e for e in events if e.startswith(b"event: message_delta"))
    assert response.usage.completion_tokens > 0
    assert f'"output_tokens":{response.usage.completion_tokens},'.encode() in delta


async def test_unreadable_event_in_an_anthropic_passthrough_ends_it_with_an_error_event(
    claude: Provider,
) -> None:
    response = await claude.messages(call("claude-malformed", MESSAGES))
    events = await drain(response)
    assert events[-1].startswith(b"event: error\n")
    assert not any(b'"usage": 5' in e or b'"usage":5' in e for e in events)
    assert response.failure is not None
    assert not response.complete


async def test_unreadable_event_in_a_translated_anthropic_stream_ends_it_as_failed(
    claude: Provider,
) -> None:
    response = await claude.chat(call("claude-malformed", CHAT))
    events = await drain(response)
    assert b'"error"' in events[-2]
    assert events[-1] == b"data: [DONE]\n\n"
    assert response.failure is not None


async def test_unreadable_ollama_line_ends_the_stream_as_failed(ollama: Provider) -> None:
    response = await ollama.chat(call("llama-malformed:latest", CHAT))
    events = await drain(response)
    assert b"cannot be read" in events[-2]
    assert events[-1] == b"data: [DONE]\n\n"
    assert response.failure is not None
    assert not response.complete


async def test_unreadable_whole_anthropic_reply_is_a_502(claude: Provider) -> None:
    with pytest.raises(UpstreamError, match="cannot be read") as caught:
        await claude.chat(call("claude-malformed", {**CHAT, "stream": False}))
    assert caught.value.status == 502


async def test_unreadable_whole_ollama_reply_is_a_502(ollama: Provider) -> None:
    with pytest.raises(UpstreamError, match="cannot be read") as caught:
        await ollama.chat(call("llama-malformed:latest", {**CHAT, "stream": False}))
    assert caught.value.status == 502
