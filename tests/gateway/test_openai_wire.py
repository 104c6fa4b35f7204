"""Passthrough of OpenAI's wire format: tool calls, usage on streams, upstream credentials."""

from __future__ import annotations

import json

import httpx2 as httpx
import openai
import pytest

from support.fake_openai import TOOL_CALLS, FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
ASK = [{"role": "user", "content": "weather in Lisboa and the time"}]


@pytest.fixture
def client(fake_gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{fake_gateway}/v1", api_key=MASTER, max_retries=0)


def test_tool_calls_pass_through_unchanged(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="fake/tools", messages=ASK, tools=TOOLS)
    calls = reply.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == TOOL_CALLS
    assert reply.choices[0].finish_reason == "tool_calls"


def test_streamed_tool_call_arguments_reassemble_exactly(client: openai.OpenAI) -> None:
    arguments: dict[int, str] = {}
    names: dict[int, str] = {}
    for chunk in client.chat.completions.create(
        model="fake/tools", messages=ASK, tools=TOOLS, stream=True
    ):
        for call in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            if call.function and call.function.name:
                names[call.index] = call.function.name
            if call.function and call.function.arguments:
                arguments[call.index] = arguments.get(call.index, "") + call.function.arguments
    assert [(names[i], json.loads(arguments[i])) for i in sorted(names)] == [
        (name, json.loads(args)) for _, name, args in TOOL_CALLS
    ]


def test_stream_hides_usage_chunk_when_client_did_not_ask(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="fake/echo", messages=ASK, stream=True))
    assert all(chunk.choices for chunk in chunks)


def test_stream_shows_usage_when_client_asked(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="fake/echo", messages=ASK, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(ASK[0]["content"].split())


def test_upstream_is_always_asked_for_stream_usage(
    client: openai.OpenAI, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    _, fake = fake_upstream
    list(client.chat.completions.create(model="fake/echo", messages=ASK, stream=True))
    assert fake.requests[-1].body["stream_options"] == {"include_usage": True}


def test_upstream_gets_the_provider_key_never_the_client_key(
    client: openai.OpenAI, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    _, fake = fake_upstream
    client.chat.completions.create(model="fake/echo", messages=ASK)
    headers = fake.requests[-1].headers
    assert headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert MASTER not in json.dumps(headers)


def test_upstream_receives_its_own_model_name(
    client: openai.OpenAI, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    _, fake = fake_upstream
    client.chat.completions.create(model="fake/echo", messages=ASK)
    assert fake.requests[-1].body["model"] == "echo"


def test_sse_stream_ends_with_done_marker(fake_gateway: str) -> None:
    with httpx.stream(
        "POST",
        f"{fake_gateway}/v1/chat/completions",
        headers={"authorization": f"Bearer {MASTER}"},
        json={"model": "fake/echo", "messages": ASK, "stream": True},
    ) as response:
        body = b"".join(response.iter_bytes())
    assert response.headers["content-type"].startswith("text/event-stream")
    assert body.endswith(b"data: [DONE]\n\n")


def test_response_names_the_provider_that_served_it(fake_gateway: str) -> None:
    response = httpx.post(
        f"{fake_gateway}/v1/chat/completions",
        headers={"authorization": f"Bearer {MASTER}"},
        json={"model": "fake/echo", "messages": ASK},
    )
    assert response.headers["x-securellm-provider"] == "fake"
    assert response.headers["x-request-id"].startswith("req_")


def test_embeddings_pass_through(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="fake/echo", input=["a", "b"])
    assert [len(d.embedding) for d in result.data] == [3, 3]


def test_bare_model_name_resolves_when_one_provider_has_it(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="echo", messages=ASK)
    assert reply.choices[0].message.content == ASK[0]["content"]
