"""Rate limits through a real gateway: refusals in the client's error shape, with headers."""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from securellm.core.config.sections import PRESETS
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory

ADMIN = {"authorization": f"Bearer {MASTER}"}
HELLO = [{"role": "user", "content": "hello there"}]
KEY_NAMES = itertools.count()


def create_key(base: str, **spec: Any) -> str:
    name = f"limited-{next(KEY_NAMES)}"  # key names are unique
    response = httpx.post(f"{base}/admin/keys", json={"name": name, **spec}, headers=ADMIN)
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def chat(base: str, key: str, model: str = "fake/echo", **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/chat/completions",
        json={"model": model, "messages": HELLO, **extra},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def provider(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "fake",
        "kind": "openai-compatible",
        "base_url": url,
        "api_key": UPSTREAM_KEY,
        **extra,
    }


@pytest.fixture
def gateway(gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]) -> Iterator[str]:
    with gateway_for([provider(fake_upstream[0])]) as base:
        yield base


def test_key_over_its_rpm_gets_429_in_openai_shape(gateway: str) -> None:
    key = create_key(gateway, rpm=2)
    codes = [chat(gateway, key).status_code for _ in range(3)]
    refused = chat(gateway, key)
    assert codes[:2] == [200, 200]
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_error"
    assert error["code"] == "rate_limit_exceeded"
    assert "2 requests per minute" in error["message"]


def test_refusal_carries_retry_after_and_ratelimit_headers(gateway: str) -> None:
    key = create_key(gateway, rpm=1)
    chat(gateway, key)
    refused = chat(gateway, key)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-limit-requests"] == "1"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"].endswith("s")


def test_admitted_response_reports_remaining_requests(gateway: str) -> None:
    key = create_key(gateway, rpm=10)
    first, second = chat(gateway, key), chat(gateway, key)
    assert first.headers["x-ratelimit-limit-requests"] == "10"
    assert first.headers["x-ratelimit-remaining-requests"] == "9"
    assert second.headers["x-ratelimit-remaining-requests"] == "8"


def test_token_limit_refuses_once_the_real_tokens_are_spent(gateway: str) -> None:
    key = create_key(gateway, tpm=100)
    long_prompt = [{"role": "user", "content": "word " * 150}]  # echo: 150 in, 150 out
    first = chat(gateway, key, messages=long_prompt)
    second = chat(gateway, key, max_tokens=1)
    assert first.status_code == 200
    assert second.status_code == 429
    assert "tokens per minute" in second.json()["error"]["message"]
    assert second.headers["x-ratelimit-limit-tokens"] == "100"


def test_token_estimate_is_reserved_while_the_request_is_in_flight(gateway: str) -> None:
    key = create_key(gateway, tpm=100)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(chat, gateway, key, "fake/slow", max_tokens=60)
        time.sleep(0.5)
        second = chat(gateway, key, max_tokens=60)
        assert slow.result().status_code == 200
    assert second.status_code == 429


def test_token_reservation_is_settled_to_the_real_count(gateway: str) -> None:
    key = create_key(gateway, tpm=1000)
    chat(gateway, key, max_tokens=500)  # reserves ~500, really uses a handful
    after = chat(gateway, key, max_tokens=1)
    remaining = int(after.headers["x-ratelimit-remaining-tokens"])
    assert remaining > 900


def test_key_without_limits_is_not_limited(gateway: str) -> None:
    key = create_key(gateway)
    assert {chat(gateway, key).status_code for _ in range(20)} == {200}


def test_provider_limit_protects_the_upstream_for_every_key(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    with gateway_for([provider(fake_upstream[0], rpm=2, burst=2)]) as base:
        first, second = create_key(base), create_key(base)
        codes = [chat(base, first).status_code, chat(base, second).status_code]
        refused = chat(base, first)
    assert codes == [200, 200]
    assert refused.status_code == 429
    assert "the provider's limit" in refused.json()["error"]["message"]


def test_provider_presets_carry_the_seed_request_limits() -> None:
    limits = {k: (PRESETS[k].rpm, PRESETS[k].burst) for k in ("deepseek", "openai", "anthropic")}
    assert limits == {"deepseek": (60, 10), "openai": (3500, 100), "anthropic": (50, 5)}
    assert (PRESETS["ollama"].rpm, PRESETS["ollama"].burst) == (10_000, 1000)


def test_model_limit_applies_to_the_matching_model_only(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    limits = {"model_limits": {"fake/echo": {"rpm": 1}}}
    with gateway_for([provider(fake_upstream[0])], gateway=limits) as base:
        key = create_key(base)
        echo = [chat(base, key).status_code for _ in range(2)]
        other = chat(base, key, model="fake/tools").status_code
    assert echo == [200, 429]
    assert other == 200


def test_concurrency_limit_refuses_a_second_request_in_flight(gateway: str) -> None:
    key = create_key(gateway, max_concurrency=1)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        slow = pool.submit(chat, gateway, key, "fake/slow")
        time.sleep(0.5)
        second = chat(gateway, key)
        assert slow.result().status_code == 200
    assert second.status_code == 429
    assert "in flight" in second.json()["error"]["message"]


def test_concurrency_slot_is_released_when_the_request_ends(gateway: str) -> None:
    key = create_key(gateway, max_concurrency=1)
    assert [chat(gateway, key).status_code for _ in range(3)] == [200, 200, 200]


def test_refused_request_does_not_consume_other_limits(gateway: str) -> None:
    key = create_key(gateway, rpm=5, tpm=50)
    chat(gateway, key, max_tokens=40)
    refused = chat(gateway, key, max_tokens=40)  # refused by tokens, must not eat a request
    assert refused.status_code == 429
    admitted = chat(gateway, key, max_tokens=1)
    assert admitted.headers["x-ratelimit-remaining-requests"] == "3"


def test_master_key_is_not_limited_by_key_limits(gateway: str) -> None:
    assert {chat(gateway, MASTER).status_code for _ in range(5)} == {200}


def test_limits_can_be_switched_off(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    with gateway_for([provider(fake_upstream[0])], gateway={"limits_enabled": False}) as base:
        key = create_key(base, rpm=1)
        assert [chat(base, key).status_code for _ in range(3)] == [200, 200, 200]


def test_refusal_on_messages_uses_the_anthropic_shape(gateway: str) -> None:
    key = create_key(gateway, rpm=1)
    body = {"model": "fake/echo", "max_tokens": 16, "messages": HELLO}
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    first = httpx.post(f"{gateway}/v1/messages", json=body, headers=headers, timeout=30)
    refused = httpx.post(f"{gateway}/v1/messages", json=body, headers=headers, timeout=30)
    assert first.status_code == 200, first.text
    assert first.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert refused.status_code == 429
    assert refused.json()["type"] == "error"
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert refused.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert int(refused.headers["retry-after"]) >= 1


def test_a_preset_refusal_names_the_preset_and_how_to_change_it(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    with gateway_for([provider(fake_upstream[0], kind="deepseek")]) as base:
        key = create_key(base)
        answers = [chat(base, key) for _ in range(20)]  # the deepseek preset: burst 10
    statuses = [a.status_code for a in answers]
    refused = next(a for a in answers if a.status_code == 429)
    assert statuses[:10] == [200] * 10
    assert refused.json()["error"]["message"].startswith(
        "rate limit reached: provider 'fake' is held to the 'deepseek' preset limit of 60 "
        "requests per minute with a burst of 10; set rpm and burst in its [[providers]] entry"
    )


def test_a_preset_throttling_is_logged_once_a_minute_without_secrets(
    gateway_for: GatewayFactory,
    fake_upstream: tuple[str, FakeOpenAI],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="securellm.gateway.limits.refusal"),
        gateway_for([provider(fake_upstream[0], kind="deepseek")]) as base,
    ):
        key = create_key(base)
        statuses = [chat(base, key).status_code for _ in range(20)]
    warnings = [r.getMessage() for r in caplog.records if r.name.endswith("limits.refusal")]
    assert statuses.count(429) >= 2
    assert warnings == [
        "provider 'fake' throttled by the 'deepseek' preset limit (60 requests per minute, "
        "burst 10); set rpm and burst in its [[providers]] entry to change it"
    ]
    assert not any(secret in caplog.text for secret in (UPSTREAM_KEY, key))


def test_an_explicit_provider_rpm_is_not_reported_as_a_preset(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    with gateway_for([provider(fake_upstream[0], kind="deepseek", rpm=1)]) as base:
        key = create_key(base)
        refused = [chat(base, key) for _ in range(2)][1]
    assert refused.status_code == 429
    assert "the provider's limit of 1 requests per minute" in refused.json()["error"]["message"]
