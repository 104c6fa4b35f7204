"""Official OpenAI SDK ``client.responses`` -> gateway -> an OpenAI chat upstream (the fake).

The Responses API is translated to chat completions and back; the stored state makes
``previous_response_id`` work across turns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from support.fake_openai import TOOL_CALLS, FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def upstream(fake_upstream: tuple[str, FakeOpenAI]) -> FakeOpenAI:
    fake_upstream[1].requests.clear()
    return fake_upstream[1]


@pytest.fixture
def client(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> Iterator[openai.OpenAI]:
    url, _ = fake_upstream
    provider = {"name": "fake", "kind": "openai-compatible", "base_url": url,
                "api_key": UPSTREAM_KEY}  # fmt: skip
    with gateway_for([provider]) as base:
        yield openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)


def test_a_string_input_is_answered_as_a_response(client: openai.OpenAI) -> None:
    response = client.responses.create(model="fake/echo", input="hello there")
    assert response.object == "response"
    assert response.id.startswith("resp_") and len(response.id) == 37
    assert response.status == "completed"
    assert response.output_text == "hello there"
    assert response.usage is not None
    assert response.usage.input_tokens == 2 and response.usage.output_tokens == 2
    assert response.usage.total_tokens == 4


def test_instructions_become_the_system_message(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    client.responses.create(model="fake/echo", input="hi", instructions="Be brief.")
    assert upstream.requests[-1].body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]


def test_options_are_translated_to_chat_fields(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    schema: Any = {"type": "object", "properties": {"a": {"type": "string"}}}
    text: Any = {"format": {"type": "json_schema", "name": "answer", "schema": schema}}
    client.responses.create(
        model="fake/echo",
        input="hi",
        max_output_tokens=64,
        temperature=0.2,
        top_p=0.9,
        text=text,
        reasoning={"effort": "low"},
    )
    sent = upstream.requests[-1].body
    assert sent["max_tokens"] == 64
    assert (sent["temperature"], sent["top_p"]) == (0.2, 0.9)
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema},
    }
    assert sent["reasoning_effort"] == "low"
    assert "input" not in sent and "max_output_tokens" not in sent


def test_a_streamed_response_follows_the_documented_event_sequence(
    client: openai.OpenAI,
) -> None:
    events = list(client.responses.create(model="fake/echo", input="one two", stream=True))
    kinds = [event.type for event in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.output_text == "one two "
    assert final.response.usage is not None and final.response.usage.output_tokens == 2


def test_the_sdk_stream_helper_collects_text_deltas(client: openai.OpenAI) -> None:
    with client.responses.stream(model="fake/echo", input="stream me please") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "stream me please "
    assert final.output_text == "stream me please "


def test_tool_calls_come_back_as_function_call_items(client: openai.OpenAI) -> None:
    response = client.responses.create(model="fake/tools", input="weather?", tools=[WEATHER])
    calls = [(item.call_id, item.name, item.arguments) for item in response.output
             if item.type == "function_call"]  # fmt: skip
    assert calls == TOOL_CALLS


def test_streamed_tool_calls_carry_their_arguments(client: openai.OpenAI) -> None:
    with client.responses.stream(model="fake/tools", input="weather?", tools=[WEATHER]) as stream:
        done = [e.arguments for e in stream if e.type == "response.function_call_arguments.done"]
        final = stream.get_final_response()
    assert done == [args for _, _, args in TOOL_CALLS]
    assert [item.type for item in final.output] == ["function_call", "function_call"]


def test_function_tools_are_sent_as_chat_tools(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    client.responses.create(
        model="fake/tools", input="weather?", tools=[WEATHER], tool_choice="required",
        parallel_tool_calls=False,
    )  # fmt: skip
    sent = upstream.requests[-1].body
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER["parameters"],
                "description": "Weather of a city",
            },
        }
    ]
    assert sent["tool_choice"] == "required"
    assert sent["parallel_tool_calls"] is False


def test_a_tool_round_trip_sends_the_call_and_its_output(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    first = client.responses.create(model="fake/tools", input="weather?", tools=[WEATHER])
    call = next(item for item in first.output if item.type == "function_call")
    result = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
    items: Any = [{"role": "user", "content": "weather?"}, call.model_dump(), result]
    second = client.responses.create(
        model="fake/echo",
        input=items,
        tools=[WEATHER],
    )
    messages = upstream.requests[-1].body["messages"]
    assert messages[1]["role"] == "assistant"
    assert messages[1]["tool_calls"][0]["id"] == call.call_id
    assert json.loads(messages[1]["tool_calls"][0]["function"]["arguments"]) == json.loads(
        call.arguments
    )
    assert messages[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny"}
    assert second.status == "completed"


def test_previous_response_id_sends_the_earlier_turns(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    first = client.responses.create(model="fake/echo", input="my name is Ana")
    client.responses.create(model="fake/echo", input="what is it?", previous_response_id=first.id)
    assert upstream.requests[-1].body["messages"] == [
        {"role": "user", "content": "my name is Ana"},
        {"role": "assistant", "content": "my name is Ana"},
        {"role": "user", "content": "what is it?"},
    ]


def test_a_streamed_answer_can_be_continued(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    with client.responses.stream(model="fake/echo", input="first words") as stream:
        first = stream.get_final_response()
    client.responses.create(model="fake/echo", input="next", previous_response_id=first.id)
    assert upstream.requests[-1].body["messages"][1] == {
        "role": "assistant",
        "content": "first words ",
    }


def test_an_unknown_previous_response_id_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.responses.create(model="fake/echo", input="x", previous_response_id="resp_nope")
    assert raised.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_an_answer_with_store_false_cannot_be_continued(client: openai.OpenAI) -> None:
    first = client.responses.create(model="fake/echo", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="fake/echo", input="x", previous_response_id=first.id)
