"""Stream translation, fed the documented event sequences one event at a time."""

from __future__ import annotations

import json
from typing import Any

from securellm.providers.translate.common import MAX_TOKENS, usage_from_openai
from securellm.providers.translate.ollama import OllamaToOpenAIStream
from securellm.providers.translate.stream_to_anthropic import OpenAIToAnthropicStream
from securellm.providers.translate.stream_to_openai import AnthropicToOpenAIStream
from support.fake_anthropic import INPUT_TOKENS, THINKING, TOOL_USES, stream_events

ASK: Any = [{"role": "user", "content": "a b c"}]


def data_of(event: bytes) -> Any:
    line = next(x for x in event.decode().split("\n") if x.startswith("data: "))
    payload = line[len("data: ") :]
    return None if payload == "[DONE]" else json.loads(payload)


def to_openai(
    model: str, *, include_usage: bool = False
) -> tuple[list[Any], AnthropicToOpenAIStream]:
    translator = AnthropicToOpenAIStream(model, include_usage=include_usage)
    out: list[bytes] = []
    for event in stream_events({"model": model, "messages": ASK}):
        out.extend(translator.feed(data_of(event)))
    return [data_of(e) for e in out], translator


def deltas(chunks: list[Any]) -> list[Any]:
    return [c["choices"][0]["delta"] for c in chunks if c and c.get("choices")]


def test_text_stream_reassembles_and_ends_with_done() -> None:
    chunks, translator = to_openai("claude-echo")
    assert "".join(d.get("content", "") for d in deltas(chunks)).split() == ["a", "b", "c"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1] is None
    assert translator.complete


def test_usage_chunk_only_when_asked_and_counts_are_kept() -> None:
    silent, translator = to_openai("claude-echo")
    shown, _ = to_openai("claude-echo", include_usage=True)
    assert not any(c and "usage" in c for c in silent)
    assert shown[-2]["usage"]["prompt_tokens"] == INPUT_TOKENS
    assert (translator.usage.prompt_tokens, translator.usage.completion_tokens) == (INPUT_TOKENS, 3)


def test_parallel_tool_uses_become_indexed_tool_calls() -> None:
    chunks, _ = to_openai("claude-tools")
    calls: dict[int, dict[str, str]] = {}
    for delta in deltas(chunks):
        for call in delta.get("tool_calls", []):
            entry = calls.setdefault(call["index"], {"id": "", "name": "", "args": ""})
            entry["id"] = call.get("id") or entry["id"]
            entry["name"] = call["function"].get("name") or entry["name"]
            entry["args"] += call["function"].get("arguments", "")
    got = [(c["id"], c["name"], json.loads(c["args"])) for _, c in sorted(calls.items())]
    assert got == [(i, n, json.loads(a)) for i, n, a in TOOL_USES]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_thinking_becomes_reasoning_content_and_signature_is_dropped() -> None:
    chunks, _ = to_openai("claude-thinking")
    reasoning = "".join(d.get("reasoning_content", "") for d in deltas(chunks))
    assert reasoning == THINKING
    assert "signature" not in json.dumps(chunks)


def test_error_event_becomes_an_openai_error_then_done() -> None:
    chunks, translator = to_openai("claude-error-mid")
    assert chunks[-2]["error"]["type"] == "overloaded_error"
    assert chunks[-1] is None
    assert translator.failed
    assert not translator.complete


def test_nothing_follows_an_error_event() -> None:
    translator = AnthropicToOpenAIStream("m", include_usage=False)
    translator.feed({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    assert translator.feed({"type": "message_stop"}) == []
    assert not translator.complete


def test_unknown_and_ping_events_produce_nothing() -> None:
    translator = AnthropicToOpenAIStream("m", include_usage=False)
    assert translator.feed({"type": "ping"}) == []
    assert translator.feed({"type": "some_future_event", "x": 1}) == []


def openai_chunk(delta: Any, finish: str | None = None, **extra: Any) -> Any:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def event_names(events: list[bytes]) -> list[str]:
    return [e.decode().split("\n")[0].removeprefix("event: ") for e in events]


def test_openai_chunks_become_a_well_ordered_anthropic_sequence() -> None:
    translator = OpenAIToAnthropicStream("m")
    events = translator.start()
    events += translator.feed(openai_chunk({"role": "assistant", "content": ""}))
    events += translator.feed(openai_chunk({"content": "Hi"}))
    head = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}}
    events += translator.feed(openai_chunk({"tool_calls": [head]}))
    events += translator.feed(
        openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]})
    )
    events += translator.feed(openai_chunk({}, "tool_calls"))
    events += translator.feed(
        {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}
    )
    events += translator.finish()
    assert event_names(events) == [
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    final = data_of(events[-2])
    assert final["delta"]["stop_reason"] == "tool_use"
    assert final["usage"]["input_tokens"] == 9
    assert final["usage"]["output_tokens"] == 4


def test_openai_error_chunk_becomes_an_anthropic_error_event() -> None:
    translator = OpenAIToAnthropicStream("m")
    events = translator.feed({"error": {"message": "boom", "type": "server_error"}})
    assert event_names(events) == ["error"]
    assert data_of(events[0])["error"] == {"type": "api_error", "message": "boom"}
    assert translator.finish() == []


def test_ollama_generate_lines_become_text_completion_chunks() -> None:
    translator = OllamaToOpenAIStream("m", include_usage=True, chat=False)
    events = translator.feed({"response": "Hello", "done": False})
    events += translator.feed({"response": "", "done": True, "done_reason": "length",
                               "prompt_eval_count": 3, "eval_count": 1})  # fmt: skip
    chunks = [data_of(e) for e in events]
    assert chunks[0]["choices"][0]["text"] == "Hello"
    assert chunks[0]["object"] == "text_completion"
    assert chunks[1]["choices"][0]["finish_reason"] == "length"
    assert chunks[2]["usage"]["prompt_tokens"] == 3
    assert chunks[3] is None


def test_a_token_count_past_64_bits_is_clamped_and_the_stream_still_ends() -> None:
    translator = AnthropicToOpenAIStream("m", include_usage=True)
    start = {"type": "message_start", "message": {"usage": {"input_tokens": 2**64}}}
    out = translator.feed(start)
    out += translator.feed({"type": "message_delta", "usage": {"output_tokens": 2**70}})
    out += translator.feed({"type": "message_stop"})
    assert (translator.usage.prompt_tokens, translator.usage.completion_tokens) == (
        MAX_TOKENS,
        MAX_TOKENS,
    )
    assert data_of(out[-2])["usage"]["total_tokens"] == 2 * MAX_TOKENS
    assert data_of(out[-1]) is None and translator.complete


def test_a_huge_openai_usage_is_clamped() -> None:
    usage = usage_from_openai({"prompt_tokens": 10**30, "completion_tokens": 5})
    assert (usage.prompt_tokens, usage.completion_tokens) == (MAX_TOKENS, 5)
