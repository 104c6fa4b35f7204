"""max_tokens fitted to the REAL local llama.cpp server's context (2048 tokens, which the
gateway reads from the server's /props at discovery), with the official SDKs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest

from support.gateway import MASTER, GatewayFactory

MODEL = "local/gemma-3-270m"
CONTEXT = 2048  # --n_ctx in support/llama.py
# About 1,955 tokens by the gateway's estimate (4 characters a token); fewer for Gemma's
# tokenizer, which reads each "hello " as one.
LONG: Any = [{"role": "user", "content": "hello " * 1300}]
TOO_LONG: Any = [{"role": "user", "content": "hello " * 1500}]  # about 2,255 estimated
pytestmark = pytest.mark.llama


@pytest.fixture
def base(gateway_for: GatewayFactory, llama_url: str) -> Iterator[str]:
    provider = {"name": "local", "kind": "llamacpp", "base_url": llama_url}
    with gateway_for([provider]) as url:
        yield url


def test_the_bundled_server_reports_its_loaded_context_at_props(llama_url: str) -> None:
    props = httpx.get(llama_url.removesuffix("/v1") + "/props").json()
    assert props["default_generation_settings"]["n_ctx"] == CONTEXT


def test_max_tokens_32000_is_lowered_to_the_context_left_and_the_call_succeeds(
    base: str,
) -> None:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=LONG, max_tokens=32_000, temperature=0
    )
    reply = raw.parse()
    note = raw.headers["x-securellm-max-tokens"]
    found = re.fullmatch(rf"lowered 32000 -> (\d+) \(context window {CONTEXT}\)", note)
    assert found is not None, note
    assert 0 < int(found[1]) < CONTEXT
    assert reply.usage is not None
    assert reply.usage.completion_tokens <= int(found[1])
    assert reply.usage.prompt_tokens + reply.usage.completion_tokens <= CONTEXT


def test_a_tpm_key_admits_four_calls_asking_for_32000_tokens(base: str) -> None:
    admin = {"authorization": f"Bearer {MASTER}"}
    created = httpx.post(f"{base}/admin/keys", json={"name": "cc", "tpm": 20_000}, headers=admin)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=created.json()["key"], max_retries=0)
    ask: Any = [{"role": "user", "content": "Say hi."}]
    for _ in range(4):
        reply = client.chat.completions.create(
            model=MODEL, messages=ask, max_tokens=32_000, temperature=0, stop=["\n"]
        )
        assert reply.choices[0].finish_reason in ("stop", "length")


def test_a_prompt_longer_than_the_context_is_a_400_in_openai_shape(base: str) -> None:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=TOO_LONG, max_tokens=16)
    assert refused.value.code == "context_length_exceeded"
    assert f"context window of model {MODEL!r} ({CONTEXT} tokens)" in refused.value.message


def test_a_prompt_longer_than_the_context_is_a_400_in_anthropic_shape(base: str) -> None:
    client = anthropic.Anthropic(base_url=base, api_key=MASTER, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model=MODEL, messages=TOO_LONG, max_tokens=16)
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["error"]["type"] == "invalid_request_error"
    assert "context window" in body["error"]["message"]
