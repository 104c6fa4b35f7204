"""Request and whole-reply translation between the OpenAI and Anthropic shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from securellm.core.errors import InvalidRequest
from securellm.providers.translate.from_anthropic import completion_to_message, messages_to_chat
from securellm.providers.translate.to_anthropic import (
    DEFAULT_MAX_TOKENS,
    chat_to_messages,
    message_to_completion,
)

USER: Any = {"role": "user", "content": "hi"}
CALL: Any = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
PNG = "iVBORw0KGgo="


def to_claude(messages: list[Any], **extra: Any) -> dict[str, Any]:
    return chat_to_messages({"messages": messages, **extra}, "claude-x")


def to_openai(messages: list[Any], **extra: Any) -> dict[str, Any]:
    return messages_to_chat({"messages": messages, "max_tokens": 10, **extra}, "gpt-x")


def test_system_and_developer_messages_become_system_blocks() -> None:
    out = to_claude(
        [{"role": "system", "content": "a"}, {"role": "developer", "content": "b"}, USER]
    )
    assert out["system"] == [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert out["messages"] == [USER]


def test_max_tokens_defaults_and_prefers_max_completion_tokens() -> None:
    assert to_claude([USER])["max_tokens"] == DEFAULT_MAX_TOKENS
    assert to_claude([USER], max_tokens=5, max_completion_tokens=7)["max_tokens"] == 7


def test_data_url_image_becomes_base64_source_and_http_url_a_url_source() -> None:
    parts = [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.org/cat.png"}},
    ]
    content = to_claude([{"role": "user", "content": parts}])["messages"][0]["content"]
    assert content[0]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert content[1]["source"] == {"type": "url", "url": "https://example.org/cat.png"}


def test_consecutive_tool_messages_share_one_user_turn() -> None:
    second = {**CALL, "id": "call_2"}
    out = to_claude(
        [
            USER,
            {"role": "assistant", "content": None, "tool_calls": [CALL, second]},
            {"role": "tool", "tool_call_id": "call_1", "content": "r1"},
            {"role": "tool", "tool_call_id": "call_2", "content": "r2"},
        ]
    )
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]
    assert [b["tool_use_id"] for b in out["messages"][2]["content"]] == ["call_1", "call_2"]


def test_stop_string_and_temperature_fit_anthropic_ranges() -> None:
    out = to_claude([USER], stop="END", temperature=1.7)
    assert out["stop_sequences"] == ["END"]
    assert out["temperature"] == 1.0


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "f"}}, None, {"type": "tool", "name": "f"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice_is_mapped(choice: Any, parallel: Any, expected: Any) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    out = to_claude([USER], tools=tools, tool_choice=choice, parallel_tool_calls=parallel)
    assert out["tool_choice"] == expected
    assert out["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]


def test_tool_arguments_that_are_not_json_are_refused() -> None:
    bad = {**CALL, "function": {"name": "f", "arguments": "{not json"}}
    with pytest.raises(InvalidRequest, match="arguments"):
        to_claude([USER, {"role": "assistant", "tool_calls": [bad]}])


def test_more_than_one_choice_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="'n'"):
        to_claude([USER], n=2)


def test_reply_maps_stop_reason_and_usage_with_cache() -> None:
    message = {
        "id": "msg_1",
        "content": [{"type": "text", "text": "cut"}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 3, "cache_read_input_tokens": 7, "output_tokens": 2},
    }
    completion = message_to_completion(message, "claude-x")
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["usage"]["prompt_tokens"] == 10
    assert completion["usage"]["prompt_tokens_details"] == {"cached_tokens": 7}


def test_anthropic_system_blocks_become_one_system_message() -> None:
    out = to_openai([USER], system=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    assert out["messages"][0] == {"role": "system", "content": "ab"}


def test_tool_results_come_before_user_text_and_errors_are_marked() -> None:
    blocks = [
        {"type": "text", "text": "and now?"},
        {"type": "tool_result", "tool_use_id": "t1", "content": "boom", "is_error": True},
    ]
    out = to_openai([{"role": "user", "content": blocks}])["messages"]
    assert out[0] == {"role": "tool", "tool_call_id": "t1", "content": "[tool error] boom"}
    assert out[1] == {"role": "user", "content": [{"type": "text", "text": "and now?"}]}


def test_base64_image_becomes_a_data_url() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    out = to_openai([{"role": "user", "content": [image]}])["messages"][0]
    assert out["content"][0]["image_url"]["url"] == f"data:image/png;base64,{PNG}"


def test_thinking_in_history_is_dropped_and_tool_use_kept() -> None:
    blocks = [
        {"type": "thinking", "thinking": "hmm", "signature": "s"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": [1, 2]}},
    ]
    out = to_openai([USER, {"role": "assistant", "content": blocks}])["messages"][1]
    assert out["content"] is None
    assert json.loads(out["tool_calls"][0]["function"]["arguments"]) == {"a": [1, 2]}


def test_anthropic_tool_choice_and_parallel_flag_are_mapped() -> None:
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    out = to_openai(
        [USER], tools=tools, tool_choice={"type": "any", "disable_parallel_tool_use": True}
    )
    assert out["tool_choice"] == "required"
    assert out["parallel_tool_calls"] is False


def test_server_tools_are_refused_clearly() -> None:
    with pytest.raises(InvalidRequest, match="web_search"):
        to_openai([USER], tools=[{"type": "web_search_20250305", "name": "web_search"}])


def test_openai_reply_becomes_a_message_with_thinking_and_tool_use() -> None:
    completion = {
        "choices": [
            {
                "message": {
                    "content": "ok",
                    "reasoning_content": "because",
                    "tool_calls": [CALL],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 6},
    }
    message = completion_to_message(completion, "m")
    assert [b["type"] for b in message["content"]] == ["thinking", "text", "tool_use"]
    assert message["content"][2]["input"] == {"a": 1}
    assert message["stop_reason"] == "tool_use"
    assert message["usage"]["input_tokens"] == 5
    assert message["usage"]["output_tokens"] == 6


def test_broken_upstream_arguments_are_kept_not_lost() -> None:
    broken = {**CALL, "function": {"name": "f", "arguments": '{"a": '}}
    completion = {"choices": [{"message": {"tool_calls": [broken]}, "finish_reason": "length"}]}
    message = completion_to_message(completion, "m")
    assert message["content"][0]["input"] == {"_raw_arguments": '{"a": '}
    assert message["stop_reason"] == "max_tokens"


def test_empty_assistant_turn_is_left_out() -> None:
    out = to_claude([USER, {"role": "assistant", "content": ""}, USER])
    assert [m["role"] for m in out["messages"]] == ["user", "user"]
