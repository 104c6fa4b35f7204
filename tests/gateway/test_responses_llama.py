"""Official OpenAI SDK ``client.responses`` -> gateway -> the real llama.cpp server (Gemma)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from support.gateway import MASTER, GatewayFactory

MODEL = "local/gemma-3-270m"
ASK = "What is the capital of France?"
pytestmark = pytest.mark.llama


@pytest.fixture
def client(gateway_for: GatewayFactory, llama_url: str) -> Iterator[openai.OpenAI]:
    provider = {"name": "local", "kind": "llamacpp", "base_url": llama_url}
    with gateway_for([provider]) as base:
        yield openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)


def test_a_response_from_the_real_model_names_paris(client: openai.OpenAI) -> None:
    response = client.responses.create(model=MODEL, input=ASK, max_output_tokens=16, temperature=0)
    assert "Paris" in response.output_text
    assert response.status in ("completed", "incomplete")
    assert response.usage is not None and response.usage.output_tokens > 0


def test_a_streamed_response_from_the_real_model(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model=MODEL, input=ASK, max_output_tokens=16, temperature=0
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text
    assert "Paris" in final.output_text


def test_the_real_model_continues_a_stored_response(client: openai.OpenAI) -> None:
    first = client.responses.create(model=MODEL, input=ASK, max_output_tokens=16, temperature=0)
    second = client.responses.create(
        model=MODEL,
        input="Repeat the city's name.",
        previous_response_id=first.id,
        max_output_tokens=16,
        temperature=0,
    )
    assert second.usage is not None and first.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens
