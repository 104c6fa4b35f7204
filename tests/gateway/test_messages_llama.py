"""The official Anthropic SDK, through ``/v1/messages``, to the real llama.cpp server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from support.gateway import MASTER, GatewayFactory

MODEL = "local/gemma-3-270m"
ASK: Any = [{"role": "user", "content": "What is the capital of France?"}]
pytestmark = pytest.mark.llama


@pytest.fixture
def client(gateway_for: GatewayFactory, llama_url: str) -> Iterator[anthropic.Anthropic]:
    provider = {"name": "local", "kind": "llamacpp", "base_url": llama_url}
    with gateway_for([provider]) as base:
        yield anthropic.Anthropic(base_url=base, api_key=MASTER, max_retries=0)


def test_message_from_the_real_model_names_paris(client: anthropic.Anthropic) -> None:
    reply = client.messages.create(
        model=MODEL, max_tokens=16, messages=ASK, extra_body={"temperature": 0}
    )
    text = "".join(b.text for b in reply.content if b.type == "text")
    assert "Paris" in text
    assert reply.usage.output_tokens > 0
    assert reply.stop_reason in ("end_turn", "max_tokens")


def test_streamed_message_from_the_real_model(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL, max_tokens=16, messages=ASK, extra_body={"temperature": 0}
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "Paris" in text
    assert final.usage.output_tokens > 0
