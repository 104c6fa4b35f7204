"""Property tests: stream translation keeps every piece of text and every tool argument."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

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
