"""Anthropic server tools toward upstreams without them: dropped or refused."""

from __future__ import annotations

from typing import Any

import pytest

from securellm.core.errors import InvalidRequest
from securellm.providers.translate.from_anthropic import messages_to_chat
from securellm.providers.translate.server_tools import (
    DROPPED_HEADER,
    dropped_headers,
    is_server_tool,
    without_server_tools,
)

BASH: Any = {"name": "Bash", "input_schema": {"type": "object"}}
SEARCH: Any = {"type": "web_search_20250305", "name": "web_search"}
EDITOR: Any = {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}
USER: Any = {"role": "user", "content": "hi"}


@pytest.mark.parametrize("kind", [None, "custom"])
def test_a_custom_or_untyped_tool_is_a_client_tool(kind: str | None) -> None:
    assert not is_server_tool({**BASH, "type": kind})


@pytest.mark.parametrize(
    "kind", ["web_search_20250305", "web_fetch_20250910", "bash_20250124", "computer_20251124"]
)
def test_any_other_type_is_a_server_tool(kind: str) -> None:
    assert is_server_tool({"type": kind, "name": "x"})


def test_drop_keeps_client_tools_and_names_the_dropped_types() -> None:
    body, dropped = without_server_tools({"tools": [SEARCH, BASH, EDITOR]}, "drop", "p")
    assert body["tools"] == [BASH]
    assert dropped == ["web_search_20250305", "text_editor_20250728"]


def test_a_body_without_server_tools_is_returned_as_it_is() -> None:
    body = {"tools": [BASH], "tool_choice": {"type": "any"}}
    assert without_server_tools(body, "refuse", "p") == (body, [])


def test_refuse_names_the_first_server_tool_and_its_index() -> None:
    with pytest.raises(InvalidRequest, match=r"tools\.1: server tool 'web_search_20250305'"):
        without_server_tools({"tools": [BASH, SEARCH]}, "refuse", "p")


def test_tool_choice_of_a_dropped_tool_becomes_auto_keeping_parallel_use() -> None:
    choice = {"type": "tool", "name": "web_search", "disable_parallel_tool_use": True}
    body, _ = without_server_tools({"tools": [BASH, SEARCH], "tool_choice": choice}, "drop", "p")
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_tool_choice_of_a_kept_tool_stays() -> None:
    choice = {"type": "tool", "name": "Bash"}
    body, _ = without_server_tools({"tools": [BASH, SEARCH], "tool_choice": choice}, "drop", "p")
    assert body["tool_choice"] == choice


def test_header_lists_each_dropped_type_once() -> None:
    header = dropped_headers(["web_search_20250305", "bash_20250124", "web_search_20250305"])
    assert header == {DROPPED_HEADER: "web_search_20250305, bash_20250124"}


def test_system_entries_join_the_system_prompt_in_order() -> None:
    messages = [
        {"role": "system", "content": "first"},
        USER,
        {"role": "system", "content": [{"type": "text", "text": "second"}]},
    ]
    out = messages_to_chat({"system": "top", "messages": messages}, "m")
    assert out["messages"] == [{"role": "system", "content": "top\n\nfirst\n\nsecond"}, USER]


def test_server_tool_history_is_left_out_toward_chat() -> None:
    assistant = {
        "role": "assistant",
        "content": [
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
            {"type": "text", "text": "found it"},
        ],
    }
    out = messages_to_chat({"messages": [USER, assistant]}, "m")
    assert out["messages"][1] == {"role": "assistant", "content": "found it"}
