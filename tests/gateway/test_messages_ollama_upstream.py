"""Both SDKs -> gateway -> Ollama's native API (the fake replaying its documented NDJSON)."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.fake_ollama import PROMPT_EVAL_COUNT, TOOL_CALLS, VECTOR, FakeOllama
from support.gateway import MASTER, make_settings

ASK: Any = [{"role": "user", "content": "why is the sky blue"}]
TOOLS: Any = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
]


@pytest.fixture(scope="module")
def fake_ollama() -> Iterator[tuple[str, FakeOllama]]:
    fake = FakeOllama()
    with serve_app(fake.app()) as url:
        yield url, fake


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_ollama: tuple[str, FakeOllama]
) -> Iterator[str]:
    provider = {"name": "ollama", "kind": "ollama", "base_url": fake_ollama[0], "rpm": 100_000}
    providers = [{**provider, "retry": {"attempts": 1}}]
    settings = make_settings(tmp_path_factory.mktemp("gw"), providers, cache={"enabled": False})
    with serve_app(create_app(settings)) as base:
        yield base


@pytest.fixture
def oai(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key=MASTER, max_retries=0)


@pytest.fixture
def claude(gateway: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway, api_key=MASTER, max_retries=0)


def test_models_are_discovered_from_api_tags(oai: openai.OpenAI) -> None:
    assert "ollama/llama-echo:latest" in [m.id for m in oai.models.list()]


def test_chat_reply_and_usage_come_from_api_chat(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(model="ollama/llama-echo:latest", messages=ASK)
    assert reply.choices[0].message.content == ASK[0]["content"]
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == PROMPT_EVAL_COUNT


def test_sampling_and_keep_alive_reach_ollama_in_its_own_shape(
    oai: openai.OpenAI, fake_ollama: tuple[str, FakeOllama]
) -> None:
    oai.chat.completions.create(
        model="ollama/llama-echo:latest",
        messages=ASK,
        max_tokens=20,
        temperature=0.2,
        stop=["\n"],
        extra_body={"keep_alive": "10m"},
    )
    sent = fake_ollama[1].requests[-1]
    assert sent.path == "/api/chat"
    assert sent.body["options"] == {"temperature": 0.2, "num_predict": 20, "stop": ["\n"]}
    assert sent.body["keep_alive"] == "10m"
    assert sent.body["stream"] is False


def test_ndjson_stream_becomes_sse_chunks_with_usage(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="ollama/llama-echo:latest",
            messages=ASK,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.split() == ASK[0]["content"].split()
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(text.split())


def test_tool_calls_arrive_with_json_arguments(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model="ollama/llama-tools:latest", messages=ASK, tools=TOOLS
    )
    calls = reply.choices[0].message.tool_calls or []
    got = [(c.function.name, json.loads(c.function.arguments)) for c in calls]  # type: ignore[union-attr]
    assert got == TOOL_CALLS
    assert reply.choices[0].finish_reason == "tool_calls"


def test_error_line_mid_stream_raises_in_the_openai_sdk(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="ollama/llama-error-mid:latest", messages=ASK, stream=True
    )
    with pytest.raises(openai.APIError, match="error was encountered"):
        list(stream)


def test_embeddings_decode_to_ollamas_vectors(oai: openai.OpenAI) -> None:
    reply = oai.embeddings.create(model="ollama/nomic-embed:latest", input=["a", "b"])
    assert [len(d.embedding) for d in reply.data] == [len(VECTOR), len(VECTOR)]
    assert reply.data[1].embedding == pytest.approx([2 * v for v in VECTOR], rel=1e-6)


def test_embeddings_as_floats_when_asked(gateway: str) -> None:
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key=MASTER, max_retries=0)
    raw = client.embeddings.with_raw_response.create(
        model="ollama/nomic-embed:latest", input="a", encoding_format="float"
    )
    assert json.loads(raw.http_response.text)["data"][0]["embedding"] == pytest.approx(VECTOR)


def test_base64_embedding_is_little_endian_float32() -> None:
    from securellm.providers.translate.ollama import embeddings

    encoded = embeddings({"embeddings": [VECTOR]}, "m", "base64")["data"][0]["embedding"]
    decoded = struct.unpack(f"<{len(VECTOR)}f", base64.b64decode(encoded))
    assert decoded == pytest.approx(VECTOR, rel=1e-6)


def test_text_completion_uses_api_generate(
    oai: openai.OpenAI, fake_ollama: tuple[str, FakeOllama]
) -> None:
    reply = oai.completions.create(model="ollama/llama-echo:latest", prompt="once upon")
    assert reply.choices[0].text.strip() == "continued: once upon"
    assert fake_ollama[1].requests[-1].body["raw"] is True


def test_unknown_model_is_404(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="ollama/nope:latest", messages=ASK)


def test_anthropic_client_gets_a_message_from_ollama(claude: anthropic.Anthropic) -> None:
    reply = claude.messages.create(model="ollama/llama-echo:latest", max_tokens=50, messages=ASK)
    assert reply.content[0].type == "text"
    assert reply.content[0].text == ASK[0]["content"]
    assert reply.usage.input_tokens == PROMPT_EVAL_COUNT


def test_anthropic_client_streams_from_ollama(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="ollama/llama-echo:latest", max_tokens=50, messages=ASK
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.split() == ASK[0]["content"].split()
    assert final.usage.input_tokens == PROMPT_EVAL_COUNT
    assert final.stop_reason == "end_turn"


def test_anthropic_client_gets_tool_use_from_ollama_stream(claude: anthropic.Anthropic) -> None:
    tools: Any = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    with claude.messages.stream(
        model="ollama/llama-tools:latest", max_tokens=50, messages=ASK, tools=tools
    ) as stream:
        final = stream.get_final_message()
    assert [(b.name, b.input) for b in final.content if b.type == "tool_use"] == TOOL_CALLS
    assert final.stop_reason == "tool_use"
