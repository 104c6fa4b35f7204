"""max_tokens fitted to the model through a real gateway, with the official SDKs: Claude
Code's 32,000 toward an 8K-output model is lowered, the response says so, the upstream gets
the lowered figure, and limits and budgets reserve it instead of 32,000."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest

from support.asgi_server import serve_app
from support.fake_anthropic import FakeAnthropic
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory

ASK: Any = [{"role": "user", "content": "hello there"}]
LOWERED = "lowered 32000 -> 8192 (model limit)"


@pytest.fixture(scope="module")
def fake_claude() -> Iterator[tuple[str, FakeAnthropic]]:
    fake = FakeAnthropic()
    with serve_app(fake.app()) as url:
        yield url, fake


@pytest.fixture
def base(
    gateway_for: GatewayFactory,
    fake_upstream: tuple[str, FakeOpenAI],
    fake_claude: tuple[str, FakeAnthropic],
) -> Iterator[str]:
    """DeepSeek's preset (8K output, from the built-in table) in front of the OpenAI fake,
    and an Anthropic upstream whose model's output is set in config."""
    providers = [
        {"name": "ds", "kind": "deepseek", "base_url": fake_upstream[0], "rpm": 100_000,
         "api_key": UPSTREAM_KEY, "models": ["deepseek-chat"]},
        {"name": "claude", "kind": "anthropic", "base_url": fake_claude[0], "rpm": 100_000,
         "api_key": UPSTREAM_KEY},
    ]  # fmt: skip
    gateway = {"model_context": {"claude/claude-echo": {"max_output": 8192}}}
    with gateway_for(providers, gateway=gateway) as url:
        yield url


def new_key(base: str, **spec: Any) -> str:
    admin = {"authorization": f"Bearer {MASTER}"}
    created = httpx.post(f"{base}/admin/keys", json={"name": "agent", **spec}, headers=admin)
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def test_openai_sdk_max_tokens_above_the_model_output_is_lowered_and_said(
    base: str, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="ds/deepseek-chat", messages=ASK, max_tokens=32_000
    )
    assert raw.parse().choices[0].message.content == "hello there"
    assert raw.headers["x-securellm-max-tokens"] == LOWERED
    assert fake_upstream[1].requests[-1].body["max_tokens"] == 8192


def test_anthropic_sdk_toward_an_openai_upstream_sends_the_lowered_figure(
    base: str, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    client = anthropic.Anthropic(base_url=base, api_key=MASTER, max_retries=0, timeout=60)
    raw = client.messages.with_raw_response.create(
        model="ds/deepseek-chat", messages=ASK, max_tokens=32_000
    )
    assert raw.parse().stop_reason == "end_turn"
    assert raw.headers["x-securellm-max-tokens"] == LOWERED
    sent = fake_upstream[1].requests[-1].body
    assert sent.get("max_tokens", sent.get("max_completion_tokens")) == 8192


def test_anthropic_sdk_toward_anthropic_passes_the_lowered_figure_through(
    base: str, fake_claude: tuple[str, FakeAnthropic]
) -> None:
    client = anthropic.Anthropic(base_url=base, api_key=MASTER, max_retries=0, timeout=60)
    raw = client.messages.with_raw_response.create(
        model="claude/claude-echo", messages=ASK, max_tokens=32_000
    )
    assert raw.headers["x-securellm-max-tokens"] == LOWERED
    assert fake_claude[1].requests[-1].body["max_tokens"] == 8192


def test_a_tpm_key_admits_four_calls_asking_for_32000_tokens(base: str) -> None:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=new_key(base, tpm=20_000))
    for _ in range(4):
        reply = client.chat.completions.create(
            model="ds/deepseek-chat", messages=ASK, max_tokens=32_000
        )
        assert reply.choices[0].finish_reason == "stop"


def test_a_budget_reserves_the_lowered_figure_not_the_asked_one(base: str) -> None:
    # 32,000 output tokens of deepseek-chat reserve $0.0134 (more than the budget);
    # the lowered 8,192 reserve $0.0034, which fits.
    client = openai.OpenAI(
        base_url=f"{base}/v1", api_key=new_key(base, budget_usd=0.01), max_retries=0
    )
    reply = client.chat.completions.create(
        model="ds/deepseek-chat", messages=ASK, max_tokens=32_000
    )
    assert reply.choices[0].message.content == "hello there"


def test_a_budget_still_refuses_what_the_lowered_figure_does_not_fit(base: str) -> None:
    client = openai.OpenAI(
        base_url=f"{base}/v1", api_key=new_key(base, budget_usd=0.001), max_retries=0
    )
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="ds/deepseek-chat", messages=ASK, max_tokens=32_000)
    assert "8192 output tokens" in refused.value.message
