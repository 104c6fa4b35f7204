"""Property tests: translating any valid request never raises and loses no message or argument."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from securellm.providers.translate.common import Unreadable
from securellm.providers.translate.from_anthropic import completion_to_message, messages_to_chat
from securellm.providers.translate.ollama import chat_completion, chat_request
from securellm.providers.translate.to_anthropic import chat_to_messages, message_to_completion

EXAMPLES = settings(max_examples=60, deadline=None)
text = st.text(min_size=1, max_size=20)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
arguments = st.dictionaries(st.text(max_size=8), json_value, max_size=4)
names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def openai_conversation(draw: st.DrawFn) -> list[Any]:
    messages: list[Any] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(text)})
    for turn in range(draw(st.integers(1, 4))):
        messages.append({"role": "user", "content": draw(text)})
        calls = [
            {
                "id": f"call_{turn}_{i}",
                "type": "function",
                "function": {"name": draw(names), "arguments": json.dumps(draw(arguments))},
            }
            for i in range(draw(st.integers(0, 3)))
        ]
        reply: Any = {"role": "assistant", "content": draw(st.none() | text)}
        if calls:
            reply["tool_calls"] = calls
        messages.append(reply)
        messages += [
            {"role": "tool", "tool_call_id": c["id"], "content": draw(text)} for c in calls
        ]
    return messages


@st.composite
def anthropic_conversation(draw: st.DrawFn) -> list[Any]:
    messages: list[Any] = []
    for turn in range(draw(st.integers(1, 4))):
        uses = [
            {
                "type": "tool_use",
                "id": f"toolu_{turn}_{i}",
                "name": draw(names),
                "input": draw(arguments),
            }
            for i in range(draw(st.integers(0, 3)))
        ]
        results = [
            {"type": "tool_result", "tool_use_id": u["id"], "content": draw(text)} for u in uses
        ]
        user: Any = (
            draw(text)
            if not messages
            else [*previous_results(messages), {"type": "text", "text": draw(text)}]
        )
        messages.append({"role": "user", "content": user})
        messages.append(
            {"role": "assistant", "content": [{"type": "text", "text": draw(text)}, *uses]}
        )
        messages[-1]["_results"] = results
    return [{k: v for k, v in m.items() if k != "_results"} for m in messages]


def previous_results(messages: list[Any]) -> list[Any]:
    results: list[Any] = messages[-1].get("_results", [])
    return results


def texts_of(messages: list[Any]) -> list[str]:
    out: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "text":
                out.append(block["text"])
            elif block.get("type") == "tool_result":
                out.append(block["content"])
    return out


@EXAMPLES
@given(openai_conversation())
def test_openai_to_anthropic_keeps_every_message_and_argument(messages: list[Any]) -> None:
    out = chat_to_messages({"messages": messages}, "m")
    system = [m["content"] for m in messages if m["role"] == "system"]
    others = [m for m in messages if m["role"] != "system"]
    expected = [m["content"] for m in others if m["content"]]
    assert [b["text"] for b in out.get("system", [])] == system
    assert texts_of(out["messages"]) == expected
    sent = [json.loads(c["function"]["arguments"]) for m in others for c in m.get("tool_calls", [])]
    got = [
        b["input"]
        for m in out["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "tool_use"
    ]
    assert got == sent


@EXAMPLES
@given(anthropic_conversation())
def test_anthropic_to_openai_keeps_every_message_and_argument(messages: list[Any]) -> None:
    out = messages_to_chat({"messages": messages, "max_tokens": 5}, "m")["messages"]
    got_texts = [
        m["content"] if isinstance(m["content"], str) else m["content"][0]["text"]
        for m in out
        if m["role"] in ("user", "tool") or m.get("content")
    ]
    assert sorted(got_texts) == sorted(texts_of(messages))
    inputs = [
        b["input"]
        for m in messages
        if isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "tool_use"
    ]
    arguments_out = [
        json.loads(c["function"]["arguments"]) for m in out for c in m.get("tool_calls", [])
    ]
    assert arguments_out == inputs


@EXAMPLES
@given(openai_conversation())
def test_round_trip_through_anthropic_keeps_the_conversation(messages: list[Any]) -> None:
    there = chat_to_messages({"messages": messages}, "m")
    back = messages_to_chat({**there, "system": there.get("system")}, "m")["messages"]
    sent = [
        json.loads(c["function"]["arguments"]) for m in messages for c in m.get("tool_calls", [])
    ]
    got = [json.loads(c["function"]["arguments"]) for m in back for c in m.get("tool_calls", [])]
    assert got == sent
    assert [m["tool_call_id"] for m in back if m["role"] == "tool"] == [
        m["tool_call_id"] for m in messages if m["role"] == "tool"
    ]


@EXAMPLES
@given(openai_conversation())
def test_openai_to_ollama_keeps_every_message_and_argument(messages: list[Any]) -> None:
    out = chat_request({"messages": messages}, "m")["messages"]
    assert len(out) == len(messages)
    sent = [
        json.loads(c["function"]["arguments"]) for m in messages for c in m.get("tool_calls", [])
    ]
    assert [c["function"]["arguments"] for m in out for c in m.get("tool_calls", [])] == sent


def reply_shaped(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An object with some of ``fields`` (each possibly any JSON value), or any JSON value."""
    optional = {k: v | json_value for k, v in fields.items()}
    return st.fixed_dictionaries({}, optional=optional) | json_value


blocks = st.lists(
    reply_shaped(type=st.sampled_from(["text", "thinking", "tool_use"]), text=text, input=arguments)
)
openai_replies = reply_shaped(
    choices=st.lists(
        reply_shaped(
            message=reply_shaped(
                content=text,
                tool_calls=st.lists(
                    reply_shaped(function=reply_shaped(name=names, arguments=text))
                ),
            )
        )
    ),
    usage=json_value,
)
anthropic_replies = reply_shaped(content=blocks, usage=json_value, id=text)
ollama_replies = reply_shaped(
    message=reply_shaped(
        content=text,
        tool_calls=st.lists(reply_shaped(function=reply_shaped(name=names, arguments=arguments))),
    )
)
ANY_REPLY = settings(max_examples=200, deadline=None)


def translated_or_refused(translate: Any, reply: Any) -> None:
    """A reply of any shape is translated into a dict or refused as unreadable (a 502)."""
    try:
        out = translate(reply, "m")
    except Unreadable:
        return  # an UpstreamError: the client gets a 502 saying which field is wrong
    assert isinstance(out, dict)
    json.dumps(out)


@ANY_REPLY
@given(openai_replies)
def test_any_openai_reply_translates_to_a_message_or_is_refused(reply: Any) -> None:
    translated_or_refused(completion_to_message, reply)


@ANY_REPLY
@given(anthropic_replies)
def test_any_anthropic_reply_translates_to_a_completion_or_is_refused(reply: Any) -> None:
    translated_or_refused(message_to_completion, reply)


@ANY_REPLY
@given(ollama_replies.filter(lambda r: isinstance(r, dict)))
def test_any_ollama_reply_translates_to_a_completion_or_is_refused(reply: Any) -> None:
    translated_or_refused(chat_completion, reply)
