"""Retries, deadlines, circuit breakers and fallbacks against an upstream that fails on cue."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from support.asgi_server import serve_app
from support.faulty_upstream import FaultyUpstream
from support.gateway import MASTER, GatewayFactory
from support.require import free_port

AUTH = {"authorization": f"Bearer {MASTER}"}
FAST_RETRY = {"attempts": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05}
NO_BREAKER = {"failure_threshold": 1000}


@pytest.fixture
def faulty() -> Iterator[tuple[str, FaultyUpstream]]:
    upstream = FaultyUpstream()
    with serve_app(upstream.app()) as url:
        yield f"{url}/v1", upstream


def provider(url: str, name: str = "flaky", **extra: Any) -> dict[str, Any]:
    return {"name": name, "base_url": url, "retry": FAST_RETRY, "breaker": NO_BREAKER, **extra}


def chat(base: str, model: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return httpx.post(f"{base}/v1/chat/completions", json=body, headers=AUTH, timeout=30)


NO_CACHE = {"cache": {"enabled": False}}


def test_a_500_is_retried_and_the_retry_answers(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    upstream.script("echo", ["500"])
    with gateway_for([provider(url)], **NO_CACHE) as base:
        response = chat(base, "flaky/echo")
    assert response.status_code == 200
    assert upstream.calls["echo"] == 2


def test_retries_stop_after_the_configured_attempts(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    upstream.script("echo", ["500", "503", "502", "500"])
    with gateway_for([provider(url)], **NO_CACHE) as base:
        response = chat(base, "flaky/echo")
    assert response.status_code == 502
    assert upstream.calls["echo"] == 3


def test_unsafe_retries_can_be_switched_off(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    upstream.script("echo", ["500"])
    retry = {**FAST_RETRY, "unsafe": False}
    with gateway_for([provider(url, retry=retry)], **NO_CACHE) as base:
        assert chat(base, "flaky/echo").status_code == 502
    assert upstream.calls["echo"] == 1


def test_a_503_is_retried_even_when_unsafe_retries_are_off(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    upstream.script("echo", ["503"])
    retry = {**FAST_RETRY, "unsafe": False}
    with gateway_for([provider(url, retry=retry)], **NO_CACHE) as base:
        assert chat(base, "flaky/echo").status_code == 200
    assert upstream.calls["echo"] == 2


def test_retry_after_is_honoured_before_retrying(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    upstream.script("echo", ["429"])
    with gateway_for([provider(url)], **NO_CACHE) as base:
        started = time.monotonic()
        response = chat(base, "flaky/echo")
        waited = time.monotonic() - started
    assert response.status_code == 200
    assert upstream.calls["echo"] == 2
    assert waited >= 1.0  # the upstream asked for one second


def test_retry_after_beyond_the_deadline_returns_the_429_at_once(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    upstream.script("echo", ["429-long"])
    with gateway_for([provider(url)], gateway={"request_timeout_s": 5}, **NO_CACHE) as base:
        response = chat(base, "flaky/echo")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert upstream.calls["echo"] == 1


def test_a_stalled_upstream_ends_at_the_request_deadline_with_504(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    upstream.script("echo", ["stall", "stall", "stall"])
    with gateway_for([provider(url)], gateway={"request_timeout_s": 1}, **NO_CACHE) as base:
        response = chat(base, "flaky/echo")
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "timeout_error"


def test_a_stream_reset_midway_is_never_retried(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    upstream.script("echo", ["reset"])
    with (
        gateway_for([provider(url)], **NO_CACHE) as base,
        httpx.stream(
            "POST",
            f"{base}/v1/chat/completions",
            json={
                "model": "flaky/echo",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
            },
            headers=AUTH,
        ) as response,
    ):
        body = b"".join(response.iter_bytes())
    assert response.status_code == 200
    assert b"part0" in body and b'"error"' in body
    assert body.index(b'"error"') < body.index(b"[DONE]")  # the error, then the end
    assert upstream.calls["echo"] == 1


def test_breaker_opens_after_the_threshold_and_fails_fast_with_503(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    upstream.script("echo", ["500", "500", "500"])
    flaky = provider(url, retry={"attempts": 1}, breaker={"failure_threshold": 2, "cooldown_s": 60})
    with gateway_for([flaky], **NO_CACHE) as base:
        assert [chat(base, "flaky/echo").status_code for _ in range(2)] == [502, 502]
        refused = chat(base, "flaky/echo")
        ready = httpx.get(f"{base}/ready").json()
        metrics = httpx.get(f"{base}/metrics").text
    assert refused.status_code == 503
    assert "circuit is open" in refused.json()["error"]["message"]
    assert upstream.calls["echo"] == 2
    assert ready["checks"]["circuits"] == {"flaky": "open"}
    assert 'securellm_circuit_state{provider="flaky"} 2.0' in metrics


def test_breaker_half_opens_after_cooldown_and_closes_on_success(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    upstream.script("echo", ["500"])
    flaky = provider(
        url, retry={"attempts": 1}, breaker={"failure_threshold": 1, "cooldown_s": 0.3}
    )
    with gateway_for([flaky], **NO_CACHE) as base:
        assert chat(base, "flaky/echo").status_code == 502
        assert chat(base, "flaky/echo").status_code == 503
        time.sleep(0.4)
        assert chat(base, "flaky/echo").status_code == 200
        ready = httpx.get(f"{base}/ready").json()
    assert ready["checks"]["circuits"] == {"flaky": "closed"}


def test_alias_falls_back_to_the_next_target_and_says_who_served(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, _ = faulty
    dead = {"name": "dead", "base_url": f"http://127.0.0.1:{free_port()}/v1", "models": ["m"]}
    alias = {"name": "fast", "targets": ["dead/m", "flaky/echo"], "strategy": "fallback"}
    with gateway_for([dead, provider(url)], aliases=[alias], **NO_CACHE) as base:
        response = chat(base, "fast")
    assert response.status_code == 200
    assert response.headers["x-securellm-provider"] == "flaky"


def test_context_window_errors_do_not_fall_back_unless_configured(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    alias = {"name": "big", "targets": ["flaky/echo", "flaky/other"]}
    upstream.script("echo", ["context"])
    with gateway_for([provider(url)], aliases=[alias], **NO_CACHE) as base:
        assert chat(base, "big").status_code == 400
    assert upstream.calls["other"] == 0


def test_context_window_errors_fall_back_when_configured(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    alias = {
        "name": "big",
        "targets": ["flaky/echo", "flaky/other"],
        "fallback_on": ["context_window"],
    }
    upstream.script("echo", ["context"])
    with gateway_for([provider(url)], aliases=[alias], **NO_CACHE) as base:
        response = chat(base, "big")
    assert response.status_code == 200
    assert "answer from other" in response.text


def test_retries_are_counted_in_metrics(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]
) -> None:
    url, upstream = faulty
    upstream.script("echo", ["500"])
    with gateway_for([provider(url)], **NO_CACHE) as base:
        chat(base, "flaky/echo")
        metrics = httpx.get(f"{base}/metrics").text
    assert 'securellm_retries_total{provider="flaky"} 1.0' in metrics
