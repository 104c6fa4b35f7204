"""The Responses API translators: request -> chat, chat reply -> Response, chunks -> events."""

from __future__ import annotations

from typing import Any

import orjson
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from securellm.providers.base import Usage
from securellm.providers.translate.responses_reply import completion_to_response
from securellm.providers.translate.responses_request import responses_to_chat
from securellm.providers.translate.stream_to_responses import ChatToResponsesStream

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _events(raw: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(event.split(b"\ndata: ", 1)[1]) for event in raw]


def test_parallel_function_calls_share_one_assistant_message() -> None:
    body = {"input": [
        {"type": "function_call", "call_id": "a", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "b", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": "1"},
    ]}  # fmt: skip
    messages = responses_to_chat(body, "m").body["messages"]
    assert [m["role"] for m in messages] == ["assistant", "tool"]
    assert [c["id"] for c in messages[0]["tool_calls"]] == ["a", "b"]


def test_reasoning_items_passed_back_are_dropped() -> None:
    body = {"input": [{"type": "reasoning", "id": "rs_1", "summary": []},
                      {"role": "user", "content": "hi"}]}  # fmt: skip
    assert responses_to_chat(body, "m").body["messages"] == [{"role": "user", "content": "hi"}]


def test_developer_messages_become_system_messages() -> None:
    body = {"input": [{"role": "developer", "content": [{"type": "input_text", "text": "x"}]}]}
    assert responses_to_chat(body, "m").body["messages"] == [{"role": "system", "content": "x"}]


def test_an_image_part_keeps_the_user_content_as_parts() -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low"}
    parts = [{"type": "input_text", "text": "what?"}, image]
    content = responses_to_chat({"input": [{"role": "user", "content": parts}]}, "m").body[
        "messages"
    ][0]["content"]
    assert content == [
        {"type": "text", "text": "what?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}},
    ]


def test_hosted_tools_are_dropped_and_named() -> None:
    body = {"input": "x", "tools": [{"type": "web_search"}, {"type": "function", "name": "f"}]}
    request = responses_to_chat(body, "m")
    assert request.dropped == ["web_search"]
    assert [t["function"]["name"] for t in request.body["tools"]] == ["f"]


def test_a_custom_tool_is_a_function_taking_its_raw_input() -> None:
    body = {"input": "x", "tools": [{"type": "custom", "name": "apply_patch"}]}
    request = responses_to_chat(body, "m")
    assert request.custom_tools == frozenset({"apply_patch"})
    assert request.body["tools"][0]["function"]["parameters"]["required"] == ["input"]


def test_reasoning_effort_is_sent_only_where_the_upstream_takes_it() -> None:
    body = {"input": "x", "reasoning": {"effort": "high"}}
    assert "reasoning_effort" not in responses_to_chat(body, "m").body
    assert responses_to_chat(body, "m", reasoning_effort=True).body["reasoning_effort"] == "high"


def test_a_completion_cut_by_its_limit_is_an_incomplete_response() -> None:
    completion = {"choices": [{"message": {"role": "assistant", "content": "par"},
                               "finish_reason": "length"}]}  # fmt: skip
    response = completion_to_response(completion, {}, "m", "resp_1", usage=Usage(3, 1))
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["usage"]["total_tokens"] == 4


def test_reasoning_content_becomes_a_reasoning_item() -> None:
    message = {"role": "assistant", "content": "4", "reasoning_content": "2+2"}
    completion = {"choices": [{"message": message, "finish_reason": "stop"}],
                  "usage": {"completion_tokens_details": {"reasoning_tokens": 3}}}  # fmt: skip
    response = completion_to_response(completion, {}, "m", "resp_1", usage=Usage(1, 5))
    assert [item["type"] for item in response["output"]] == ["reasoning", "message"]
    assert response["usage"]["output_tokens_details"] == {"reasoning_tokens": 3}


def test_every_stream_event_parses_as_the_sdk_type_in_sequence() -> None:
    stream = ChatToResponsesStream({"tools": []}, "m", "resp_1")
    raw = stream.start()
    raw += stream.feed(_chunk({"reasoning_content": "think"}))
    raw += stream.feed(_chunk({"content": "hi"}))
    call = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a"'}}
    raw += stream.feed(_chunk({"tool_calls": [call]}))
    raw += stream.feed(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}))
    raw += stream.feed(_chunk({}, "tool_calls"))
    raw += stream.finish()
    events = _events(raw)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    parsed = [EVENTS.validate_python(event) for event in events]
    assert parsed[-1].type == "response.completed"
    assert [item.type for item in parsed[-1].response.output] == [
        "reasoning", "message", "function_call"
    ]  # fmt: skip
    assert parsed[-1].response.output[2].arguments == '{"a": 1}'


def test_an_error_chunk_ends_the_stream_with_response_failed() -> None:
    stream = ChatToResponsesStream({}, "m", "resp_1")
    events = _events(stream.feed({"error": {"message": "overloaded"}}))
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"] == {"code": "server_error", "message": "overloaded"}
    assert stream.failure == "overloaded" and not stream.complete


def test_the_closer_numbers_its_event_after_the_last_one() -> None:
    stream = ChatToResponsesStream({}, "m", "resp_1")
    sent = stream.feed(_chunk({"content": "hi"}))
    closing = _events([stream.closer("cut short")])[0]
    assert closing["type"] == "response.failed"
    assert closing["sequence_number"] == len(sent)
