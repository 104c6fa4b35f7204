"""The official OpenAI SDK, through the gateway, to the real llama.cpp server (Gemma 3 270M)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from support.gateway import MASTER, GatewayFactory

MODEL = "local/gemma-3-270m"


@pytest.fixture
def client(gateway_for: GatewayFactory, llama_url: str) -> Iterator[openai.OpenAI]:
    provider = {"name": "local", "kind": "llamacpp", "base_url": llama_url}
    with gateway_for([provider]) as base:
        yield openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)


def test_models_lists_the_local_model_under_its_provider(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids


def test_chat_completion_returns_real_text_and_usage(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=16,
        temperature=0,
    )
    text = reply.choices[0].message.content or ""
    assert "Paris" in text
    assert reply.usage is not None and reply.usage.completion_tokens > 0


def test_streamed_chat_arrives_in_chunks_and_ends_cleanly(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=16,
        temperature=0,
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 2
    assert "Paris" in text
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_text_completion_continues_the_prompt(client: openai.OpenAI) -> None:
    reply = client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0
    )
    assert reply.choices[0].text.strip()


def test_unknown_model_is_a_404_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(
            model="local/no-such-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 404
    assert "no-such-model" in str(caught.value.message)
