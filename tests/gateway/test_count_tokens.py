"""``client.messages.count_tokens(...)`` on every upstream kind, each saying how it counted.

Anthropic counts exactly; the real local model counts with its own tokenizer (directly and
behind offload); OpenAI's cl100k models with tiktoken; other models are estimated. The
body is Anthropic's ``{"input_tokens": N}``; ``x-securellm-token-count`` says which.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx
import pytest

from securellm.core.config import settings_from_mapping
from securellm.offload.api import create_app as create_offload
from securellm.providers.tokens import transcript
from securellm.providers.translate.from_anthropic import messages_to_chat
from support.asgi_server import serve_app
from support.claude_code import HEADERS, count_body
from support.fake_anthropic import FakeAnthropic
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory

KIND = "x-securellm-token-count"
METHOD = "x-securellm-token-counter"
HELLO: Any = [{"role": "user", "content": "hello world"}]
GEMMA = "gemma-3-270m"


def count(base: str, model: str, **body: Any) -> Any:
    client = anthropic.Anthropic(base_url=base, api_key=MASTER, max_retries=0)
    arguments = {"messages": HELLO, **body}
    rest = {k: v for k, v in arguments.items() if k != "messages"}
    return client.messages.with_raw_response.count_tokens(
        model=model, messages=arguments["messages"], extra_headers=HEADERS, extra_body=rest
    )


@pytest.fixture
def openai_kinds(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> Iterator[str]:
    """``oa`` (kind openai), ``ds`` (deepseek) and ``compat`` on the OpenAI-chat fake."""
    url = fake_upstream[0]
    providers = [
        {"name": "oa", "kind": "openai", "base_url": url, "api_key": UPSTREAM_KEY,
         "models": ["gpt-4", "gpt-4o-mini"]},
        {"name": "ds", "kind": "deepseek", "base_url": url, "api_key": UPSTREAM_KEY,
         "models": ["deepseek-chat"]},
        {"name": "compat", "base_url": url, "api_key": UPSTREAM_KEY, "models": ["echo"]},
    ]  # fmt: skip
    with gateway_for(providers) as base:
        yield base


def test_anthropic_upstream_counts_exactly(gateway_for: GatewayFactory) -> None:
    fake = FakeAnthropic()
    with serve_app(fake.app()) as url:
        provider = {"name": "claude", "kind": "anthropic", "base_url": url, "api_key": "k"}
        with gateway_for([provider]) as base:
            raw = count(base, "claude/claude-echo")
    assert raw.parse().input_tokens == len('[{"role": "user", "content": "hello world"}]') // 4
    assert raw.headers[KIND] == "exact"
    assert fake.requests[-1].path == "/v1/messages/count_tokens"


def test_gpt_4_is_counted_with_tiktoken_and_openai_message_overhead(openai_kinds: str) -> None:
    raw = count(openai_kinds, "oa/gpt-4")
    # 3 per message + "user" (1) + "hello world" (2) + 3 priming the reply
    assert raw.parse().input_tokens == 9
    assert raw.headers[KIND] == "tokenizer"
    assert raw.headers[METHOD] == "tiktoken cl100k_base"


def test_an_o200k_model_is_an_estimate_with_cl100k(openai_kinds: str) -> None:
    raw = count(openai_kinds, "oa/gpt-4o-mini")
    assert raw.parse().input_tokens == 9
    assert raw.headers[KIND] == "estimate"
    assert "not 'gpt-4o-mini'" in raw.headers[METHOD]


def test_deepseek_is_an_estimate(openai_kinds: str) -> None:
    raw = count(openai_kinds, "ds/deepseek-chat")
    assert raw.headers[KIND] == "estimate"
    assert raw.parse().input_tokens > 0


def test_a_server_without_a_tokenizer_is_estimated(openai_kinds: str) -> None:
    raw = count(openai_kinds, "compat/echo")
    chat = messages_to_chat({"messages": HELLO}, "echo")
    assert raw.parse().input_tokens == -(-len(transcript(chat).encode()) // 4)
    assert raw.headers[KIND] == "estimate"


def test_claude_code_count_with_a_server_tool_is_200_naming_it(openai_kinds: str) -> None:
    body = count_body()
    raw = count(openai_kinds, "oa/gpt-4", **body)
    assert raw.status_code == 200
    assert raw.parse().input_tokens > 9
    assert raw.headers["x-securellm-dropped-tools"] == "web_search_20250305"


def test_counting_is_never_sent_to_an_openai_upstream(
    openai_kinds: str, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    before = len(fake_upstream[1].requests)
    count(openai_kinds, "oa/gpt-4")
    assert len(fake_upstream[1].requests) == before


def _root_tokens(root: str, text: str) -> int:
    reply = httpx.post(f"{root}/extras/tokenize", json={"input": text}, timeout=30)
    tokens: list[int] = reply.json()["tokens"]
    return len(tokens)


@pytest.mark.llama
def test_the_real_model_counts_with_its_own_tokenizer(
    gateway_for: GatewayFactory, llama_url: str
) -> None:
    provider = {"name": "local", "kind": "llamacpp", "base_url": llama_url}
    with gateway_for([provider]) as base:
        first = count(base, f"local/{GEMMA}", **count_body())
        again = count(base, f"local/{GEMMA}", **count_body())
    chat = messages_to_chat({**count_body(), "tools": count_body()["tools"][:1]}, GEMMA)
    expected = _root_tokens(llama_url.removesuffix("/v1"), transcript(chat))
    assert first.parse().input_tokens == again.parse().input_tokens == expected
    assert first.headers[KIND] == "tokenizer"
    assert first.headers[METHOD].startswith("llama-cpp-python")


@pytest.fixture
def offload_url(tmp_path: Path) -> Iterator[str]:
    """A real offload serving the bundled Gemma through its own llama.cpp-based server."""
    section = {
        "model_dirs": [], "ollama_dir": None, "huggingface_dir": None,
        "include_bundled": True, "registry_path": str(tmp_path / "registry.db"),
        "gpu": "simulated", "simulated_vram_mib": 4096, "default_ctx": 512,
    }  # fmt: skip
    raw = {"data_dir": str(tmp_path / "o"), "state_dir": str(tmp_path / "os"),
           "log_dir": str(tmp_path / "ol"), "offload": section}  # fmt: skip
    with serve_app(create_offload(settings_from_mapping(raw, env={}))) as url:
        yield url


@pytest.mark.llama
def test_a_model_behind_offload_counts_with_its_own_tokenizer(
    gateway_for: GatewayFactory, offload_url: str
) -> None:
    provider = {"name": "gpu", "kind": "offload", "base_url": f"{offload_url}/v1"}
    with gateway_for([provider]) as base:
        raw = count(base, f"gpu/{GEMMA}")
    direct = httpx.post(
        f"{offload_url}/tokenize", json={"model": GEMMA, "content": "x"}, timeout=60
    )
    assert direct.status_code == 200
    assert raw.headers[KIND] == "tokenizer"
    assert raw.headers[METHOD].startswith("llama.cpp /tokenize")
    assert raw.parse().input_tokens > 0


def test_offload_tokenize_without_content_is_400(offload_url: str) -> None:
    reply = httpx.post(f"{offload_url}/tokenize", json={"model": GEMMA}, timeout=10)
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"
