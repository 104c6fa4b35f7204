"""The response cache: identical answers with no upstream call, replayed streams, opt-outs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from support.asgi_server import serve_app
from support.faulty_upstream import FaultyUpstream
from support.gateway import MASTER, GatewayFactory

AUTH = {"authorization": f"Bearer {MASTER}"}
ASK = [{"role": "user", "content": "hi"}]
# The cache is off by default and keeps sampled answers out unless told otherwise; most
# tests here turn both on, so any two identical requests share an entry.
CACHE_ALL = {"enabled": True, "nondeterministic": True}
DETERMINISTIC_ONLY = {"enabled": True}


@pytest.fixture
def upstream() -> Iterator[tuple[str, FaultyUpstream]]:
    faulty = FaultyUpstream()
    with serve_app(faulty.app()) as url:
        yield f"{url}/v1", faulty


@pytest.fixture
def base(gateway_for: GatewayFactory, upstream: tuple[str, FaultyUpstream]) -> Iterator[str]:
    with gateway_for([{"name": "up", "base_url": upstream[0]}], cache=CACHE_ALL) as url:
        yield url


@pytest.fixture
def deterministic_base(
    gateway_for: GatewayFactory, upstream: tuple[str, FaultyUpstream]
) -> Iterator[str]:
    """The cache enabled with nothing else said: only ``temperature`` 0 is cached."""
    with gateway_for([{"name": "up", "base_url": upstream[0]}], cache=DETERMINISTIC_ONLY) as url:
        yield url


def chat(base: str, headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    body = {"model": "up/echo", "messages": ASK, **extra}
    return httpx.post(f"{base}/v1/chat/completions", json=body, headers=headers or AUTH)


def stream(base: str, **extra: Any) -> bytes:
    body = {"model": "up/echo", "messages": ASK, "stream": True, **extra}
    with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, headers=AUTH) as r:
        return b"".join(r.iter_bytes())


def test_a_repeated_request_is_answered_from_cache_without_calling_upstream(
    base: str, upstream: tuple[str, FaultyUpstream]
) -> None:
    first, second = chat(base), chat(base)
    assert second.content == first.content
    assert upstream[1].calls["echo"] == 1


def test_key_order_and_user_field_do_not_change_the_cache_key(
    base: str, upstream: tuple[str, FaultyUpstream]
) -> None:
    chat(base, temperature=0, max_tokens=5, user="alice")
    chat(base, max_tokens=5, temperature=0, user="bob")
    assert upstream[1].calls["echo"] == 1


def test_different_sampling_parameters_are_different_entries(
    base: str, upstream: tuple[str, FaultyUpstream]
) -> None:
    chat(base, temperature=0)
    chat(base, temperature=1)
    assert upstream[1].calls["echo"] == 2


def test_a_streamed_request_is_replayed_as_the_same_stream(
    base: str, upstream: tuple[str, FaultyUpstream]
) -> None:
    first, second = stream(base), stream(base)
    assert second == first
    assert second.endswith(b"data: [DONE]\n\n")
    assert upstream[1].calls["echo"] == 1


def test_cache_control_no_cache_skips_the_cache(
    base: str, upstream: tuple[str, FaultyUpstream]
) -> None:
    chat(base)
    chat(base, headers={**AUTH, "cache-control": "no-cache"})
    assert upstream[1].calls["echo"] == 2


def test_a_key_with_cache_disabled_never_uses_it(
    base: str, upstream: tuple[str, FaultyUpstream]
) -> None:
    created = httpx.post(
        f"{base}/admin/keys", json={"name": "nocache", "cache_enabled": False}, headers=AUTH
    ).json()
    headers = {"authorization": f"Bearer {created['key']}"}
    chat(base, headers=headers)
    chat(base, headers=headers)
    assert upstream[1].calls["echo"] == 2


def test_errors_are_not_cached(base: str, upstream: tuple[str, FaultyUpstream]) -> None:
    upstream[1].script("echo", ["context"])
    assert chat(base).status_code == 400
    assert chat(base).status_code == 200


def test_hits_show_in_stats_and_metrics_and_clear_empties_the_cache(base: str) -> None:
    chat(base)
    chat(base)
    stats = httpx.get(f"{base}/admin/cache", headers=AUTH).json()
    metrics = httpx.get(f"{base}/metrics").text
    assert (stats["hits"], stats["misses"], stats["entries"]) == (1, 1, 1)
    assert "securellm_cache_hits_total 1.0" in metrics
    cleared = httpx.delete(f"{base}/admin/cache", headers=AUTH).json()
    assert cleared == {"cleared": 1}


def test_cache_admin_needs_the_master_key(base: str) -> None:
    assert httpx.get(f"{base}/admin/cache").status_code == 401


def test_a_hit_is_audited_as_a_hit_with_zero_cost(
    gateway_for: GatewayFactory, upstream: tuple[str, FaultyUpstream], tmp_path: Path
) -> None:
    prices = {"prices": {"up/echo": {"input": 1000.0, "output": 1000.0}}}
    provider = [{"name": "up", "base_url": upstream[0]}]
    with gateway_for(provider, gateway=prices, cache=CACHE_ALL) as base:
        chat(base)
        chat(base)
    lines = (tmp_path / "log" / "audit").glob("*.jsonl")
    records = [orjson.loads(line) for f in lines for line in f.read_bytes().splitlines()]
    chats = [r for r in records if r["endpoint"] == "chat"]
    assert [(r["cache_hit"], r["cost_usd"] > 0) for r in chats] == [(False, True), (True, False)]
    assert chats[1]["event_type"] == "request.cache_hit"


def test_by_default_two_identical_requests_both_reach_the_upstream(
    gateway_for: GatewayFactory, upstream: tuple[str, FaultyUpstream]
) -> None:
    with gateway_for([{"name": "up", "base_url": upstream[0]}]) as base:
        first, second = chat(base, temperature=0), chat(base, temperature=0)
        stats = httpx.get(f"{base}/admin/cache", headers=AUTH).json()
    assert (first.status_code, second.status_code) == (200, 200)
    assert upstream[1].calls["echo"] == 2
    assert (stats["enabled"], stats["hits"], stats["misses"]) == (False, 0, 0)


def test_when_enabled_a_temperature_zero_request_is_cached(
    deterministic_base: str, upstream: tuple[str, FaultyUpstream]
) -> None:
    first = chat(deterministic_base, temperature=0)
    second = chat(deterministic_base, temperature=0)
    assert second.content == first.content
    assert upstream[1].calls["echo"] == 1


def test_when_enabled_a_request_without_temperature_is_not_cached(
    deterministic_base: str, upstream: tuple[str, FaultyUpstream]
) -> None:
    chat(deterministic_base)
    chat(deterministic_base)
    assert upstream[1].calls["echo"] == 2


def test_when_enabled_a_sampled_request_is_not_cached(
    deterministic_base: str, upstream: tuple[str, FaultyUpstream]
) -> None:
    chat(deterministic_base, temperature=0.7)
    chat(deterministic_base, temperature=0.7)
    assert upstream[1].calls["echo"] == 2


def test_nondeterministic_true_caches_a_request_without_temperature(
    base: str, upstream: tuple[str, FaultyUpstream]
) -> None:
    chat(base)
    chat(base)
    stats = httpx.get(f"{base}/admin/cache", headers=AUTH).json()
    assert upstream[1].calls["echo"] == 1
    assert (stats["enabled"], stats["nondeterministic"]) == (True, True)
