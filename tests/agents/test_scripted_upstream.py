"""The scripted upstream read by the official SDKs: each dialect's wire format parses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from support.scripted.script import COMMAND, FINAL_MARKER, SIDE_TEXT
from support.scripted_upstream import ScriptedUpstream, scripted_upstream

BASH: Any = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}},
        "required": ["command"],
    },
}
SHELL_FN: Any = {
    "type": "function",
    "name": "shell",
    "parameters": {
        "type": "object",
        "properties": {"command": {"type": "array", "items": {"type": "string"}}},
        "required": ["command"],
    },
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, ScriptedUpstream]]:
    with scripted_upstream() as served:
        yield served


@pytest.fixture
def oai(upstream: tuple[str, ScriptedUpstream]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{upstream[0]}/v1", api_key="sk-x", max_retries=0)


@pytest.fixture
def claude(upstream: tuple[str, ScriptedUpstream]) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=upstream[0], api_key="sk-x", max_retries=0)


def test_messages_stream_calls_the_bash_tool_with_the_sentinel_command(
    claude: anthropic.Anthropic,
) -> None:
    ask: Any = [{"role": "user", "content": "write the file"}]
    with claude.messages.stream(model="m", max_tokens=64, messages=ask, tools=[BASH]) as s:
        final = s.get_final_message()
    block = final.content[0]
    assert block.type == "tool_use" and block.name == "Bash"
    assert block.input == {"command": COMMAND}
    assert final.stop_reason == "tool_use"


def test_messages_after_a_tool_result_answer_with_the_marker(claude: anthropic.Anthropic) -> None:
    turns: Any = [
        {"role": "user", "content": "write the file"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": COMMAND}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": ""}]},
    ]  # fmt: skip
    reply = claude.messages.create(model="m", max_tokens=64, messages=turns, tools=[BASH])
    assert reply.content[0].type == "text" and FINAL_MARKER in reply.content[0].text


def test_chat_stream_without_tools_is_a_side_reply(oai: openai.OpenAI) -> None:
    chunks = oai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "title?"}], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    parts = list(chunks)
    text = "".join(c.choices[0].delta.content or "" for c in parts if c.choices)
    assert text == SIDE_TEXT
    assert parts[-1].usage is not None and parts[-1].usage.total_tokens > 0


def test_responses_stream_calls_an_argv_shell_tool(oai: openai.OpenAI) -> None:
    with oai.responses.stream(model="m", input="write the file", tools=[SHELL_FN]) as s:
        final = s.get_final_response()
    call = final.output[0]
    assert call.type == "function_call" and call.name == "shell"
    assert json.loads(call.arguments) == {"command": ["bash", "-lc", COMMAND]}


def test_responses_continue_from_a_stored_response(oai: openai.OpenAI) -> None:
    first = oai.responses.create(model="m", input="write the file", tools=[SHELL_FN])
    call = first.output[0]
    assert call.type == "function_call"
    output: Any = [{"type": "function_call_output", "call_id": call.call_id, "output": "ok"}]
    second = oai.responses.create(
        model="m", input=output, tools=[SHELL_FN], previous_response_id=first.id
    )
    assert FINAL_MARKER in second.output_text
    assert oai.responses.retrieve(second.id).id == second.id
