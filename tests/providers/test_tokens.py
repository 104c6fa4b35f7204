"""Token counting helpers: renderings, the servers' answers, tiktoken offline, estimates."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from securellm.providers.tokens import (
    KIND_HEADER,
    TiktokenCounter,
    TokenCount,
    count_response,
    estimate,
    server_root,
    tokens_in,
    transcript,
    uses_cl100k,
)

CHAT: Any = {
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ],
    "tools": [{"type": "function", "function": {"name": "f"}}],
}


def test_transcript_has_each_message_the_tools_and_the_reply_cue() -> None:
    lines = transcript(CHAT).splitlines()
    assert lines[0] == "system: be brief"
    assert lines[1] == "user: hi"
    assert lines[2].startswith('assistant: [{"id":"c1"')
    assert lines[3:5] == ["tool: ok", "c1"]
    assert lines[-2].startswith("tools: ")
    assert lines[-1] == "assistant:"


@pytest.mark.parametrize(
    ("reply", "tokens"),
    [({"tokens": [1, 2, 3]}, 3), ({"count": 7}, 7), ({"count": True}, None), ([1], None)],
)
def test_tokens_in_reads_both_server_answers(reply: Any, tokens: int | None) -> None:
    assert tokens_in(reply) == tokens


def test_server_root_drops_the_v1_suffix() -> None:
    assert server_root("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080"
    assert server_root("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


def test_estimate_is_four_utf8_bytes_a_token() -> None:
    chat = {"messages": [{"role": "user", "content": "é" * 40}]}
    count = estimate(chat)
    assert count.tokens == -(-len(transcript(chat).encode()) // 4)
    assert count.kind == "estimate"


def test_count_response_is_anthropic_body_with_the_kind_header() -> None:
    response = count_response(TokenCount(12, "tokenizer", "m"), {"x-a": "b"})
    assert response.body == b'{"input_tokens":12}'
    assert response.headers[KIND_HEADER] == "tokenizer"
    assert response.headers["x-a"] == "b"


def test_tiktoken_counts_offline_with_the_bundled_cl100k() -> None:
    chat = {"messages": [{"role": "user", "content": "hello world"}]}
    count = asyncio.run(TiktokenCounter().count(chat, "gpt-4", own_tokenizer=True))
    assert count == TokenCount(9, "tokenizer", "tiktoken cl100k_base")


def test_gpt_4o_does_not_use_cl100k() -> None:
    assert uses_cl100k("gpt-4") and not uses_cl100k("gpt-4o") and not uses_cl100k("unknown")
