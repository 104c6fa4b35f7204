"""Property tests: stream translation keeps every piece of text and every tool argument."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from securellm.providers.translate.ollama import OllamaToOpenAIStream
from securellm.providers.translate.stream_to_anthropic import OpenAIToAnthropicStream
from securellm.providers.translate.stream_to_openai import AnthropicToOpenAIStream

EXAMPLES = settings(max_examples=60, deadline=None)
pieces = st.lists(st.text(min_size=1, max_size=8), max_size=5)
tool_input = st.dictionaries(st.text(max_size=6), st.integers() | st.text(max_size=6), max_size=3)


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


def payloads(events: list[bytes]) -> list[Any]:
    out = []
    for event in events:
        line = next(x for x in event.decode().split("\n") if x.startswith("data: "))
        body = line[len("data: ") :]
        out.append(None if body == "[DONE]" else json.loads(body))
    return out


@EXAMPLES
@given(
    pieces, st.lists(st.tuples(tool_input, st.lists(st.integers(0, 50), max_size=4)), max_size=3)
)
def test_openai_chunks_to_anthropic_keep_text_and_arguments(
    text: list[str], tools: list[tuple[dict[str, Any], list[int]]]
) -> None:
    translator = OpenAIToAnthropicStream("m")
    events = translator.start()
    for piece in text:
        events += translator.feed({"choices": [{"index": 0, "delta": {"content": piece}}]})
    for index, (arguments, cuts) in enumerate(tools):
        head = {"index": index, "id": f"c{index}", "function": {"name": "f", "arguments": ""}}
        events += translator.feed({"choices": [{"index": 0, "delta": {"tool_calls": [head]}}]})
        for part in split(json.dumps(arguments), cuts):
            delta = {"tool_calls": [{"index": index, "function": {"arguments": part}}]}
            events += translator.feed({"choices": [{"index": 0, "delta": delta}]})
    events += translator.finish()
    data = payloads(events)
    got_text = "".join(
        d["delta"].get("text", "") for d in data if d["type"] == "content_block_delta"
    )
    tool_blocks = [
        d["index"]
        for d in data
        if d["type"] == "content_block_start" and d["content_block"]["type"] == "tool_use"
    ]
    got_args = [
        json.loads(
            "".join(
                d["delta"]["partial_json"]
                for d in data
                if d["type"] == "content_block_delta" and d["index"] == block
            )
        )
        for block in tool_blocks
    ]
    assert got_text == "".join(text)
    assert got_args == [arguments for arguments, _ in tools]
    starts = [d["index"] for d in data if d["type"] == "content_block_start"]
    stops = [d["index"] for d in data if d["type"] == "content_block_stop"]
    assert starts == stops == list(range(len(starts)))
    assert data[-1] == {"type": "message_stop"}


@EXAMPLES
@given(
    pieces, st.lists(st.tuples(tool_input, st.lists(st.integers(0, 50), max_size=4)), max_size=3)
)
def test_anthropic_events_to_openai_keep_text_and_arguments(
    text: list[str], tools: list[tuple[dict[str, Any], list[int]]]
) -> None:
    translator = AnthropicToOpenAIStream("m", include_usage=True)
    out = translator.feed(
        {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 3}}}
    )
    out += translator.feed(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    )
    for piece in text:
        out += translator.feed(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            }
        )
    for offset, (arguments, cuts) in enumerate(tools, start=1):
        block = {"type": "tool_use", "id": f"toolu_{offset}", "name": "f", "input": {}}
        out += translator.feed(
            {"type": "content_block_start", "index": offset, "content_block": block}
        )
        for part in split(json.dumps(arguments), cuts):
            out += translator.feed(
                {
                    "type": "content_block_delta",
                    "index": offset,
                    "delta": {"type": "input_json_delta", "partial_json": part},
                }
            )
    out += translator.feed(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 9},
        }
    )
    out += translator.feed({"type": "message_stop"})
    chunks = [c for c in payloads(out) if c is not None]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content", "") for d in deltas) == "".join(text)
    arguments: dict[int, str] = {}
    for delta in deltas:
        for call in delta.get("tool_calls", []):
            arguments[call["index"]] = (
                arguments.get(call["index"], "") + call["function"]["arguments"]
            )
    assert [json.loads(arguments[i]) for i in sorted(arguments)] == [a for a, _ in tools]
    assert chunks[-1]["usage"]["completion_tokens"] == 9


# Arbitrary JSON anywhere in an event: the translators never raise, and a stream always
# ends with its terminal event or with the dialect's error event, nothing after either.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The well-typed value, or any JSON value at all in its place."""
    return strategy | json_values


def shaped(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return maybe(st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in fields.items()}))


words = st.text(max_size=5)
openai_chunks = shaped(
    choices=st.lists(
        shaped(
            delta=shaped(
                content=words,
                reasoning_content=words,
                tool_calls=st.lists(
                    shaped(
                        index=st.integers(0, 2),
                        id=words,
                        function=shaped(name=words, arguments=words),
                    ),
                    max_size=2,
                ),
            ),
            finish_reason=st.sampled_from(["stop", "length", "tool_calls"]),
        ),
        max_size=2,
    ),
    usage=shaped(prompt_tokens=st.integers(), completion_tokens=st.integers()),
    error=shaped(message=words, type=words),
)
anthropic_events = (
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                [
                    "message_start",
                    "content_block_start",
                    "content_block_delta",
                    "message_delta",
                    "ping",
                    "error",
                ]
            )
        },
        optional={
            "index": maybe(st.integers(0, 2)),
            "message": shaped(id=words, usage=shaped(input_tokens=st.integers())),
            "content_block": shaped(
                type=st.sampled_from(["text", "tool_use"]), text=words, id=words, name=words
            ),
            "delta": shaped(
                type=st.sampled_from(["text_delta", "thinking_delta", "input_json_delta"]),
                text=words,
                thinking=words,
                partial_json=words,
                stop_reason=words,
            ),
            "usage": shaped(input_tokens=st.integers(), output_tokens=st.integers()),
            "error": shaped(message=words, type=words),
        },
    )
    | json_values
)
ollama_lines = shaped(
    message=shaped(
        content=words,
        thinking=words,
        tool_calls=st.lists(shaped(function=shaped(name=words, arguments=json_values))),
    ),
    response=words,
    done=st.just(False),
    error=words,
)
ANY_EVENTS = settings(max_examples=300, deadline=None)


def openai_dialect_ending(events: list[bytes], failed: bool) -> None:
    """Every event is an SSE data line; ``[DONE]`` comes once, last; an error only before it."""
    data = payloads(events)
    assert data[-1] is None
    assert data.count(None) == 1
    errors = [i for i, d in enumerate(data) if isinstance(d, dict) and "error" in d]
    assert errors == ([len(data) - 2] if failed else [])


@ANY_EVENTS
@given(st.lists(openai_chunks, max_size=6))
def test_any_openai_chunks_end_an_anthropic_stream_with_stop_or_error(chunks: list[Any]) -> None:
    translator = OpenAIToAnthropicStream("m")
    events = translator.start()
    for chunk in chunks:
        events += translator.feed(chunk)
    events += translator.finish()
    data = payloads(events)
    assert data[-1]["type"] == ("error" if translator.failed else "message_stop")
    assert [d["type"] for d in data].count(data[-1]["type"]) == 1
    assert translator.complete != translator.failed


@ANY_EVENTS
@given(st.lists(anthropic_events, max_size=6))
def test_any_anthropic_events_end_an_openai_stream_with_done(events: list[Any]) -> None:
    translator = AnthropicToOpenAIStream("m", include_usage=True)
    out: list[bytes] = []
    for event in [*events, {"type": "message_stop"}]:
        out += translator.feed(event)
    openai_dialect_ending(out, translator.failed)
    assert translator.complete != translator.failed


@ANY_EVENTS
@given(st.lists(ollama_lines, max_size=6), st.booleans())
def test_any_ollama_lines_end_an_openai_stream_with_done(lines: list[Any], chat: bool) -> None:
    translator = OllamaToOpenAIStream("m", include_usage=True, chat=chat)
    out: list[bytes] = []
    for line in [*lines, {"done": True, "eval_count": 3}]:
        out += translator.feed(line)
    openai_dialect_ending(out, translator.failed)
    assert translator.complete != translator.failed
