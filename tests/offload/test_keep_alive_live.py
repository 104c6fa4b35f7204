"""Per-request ``keep_alive`` and ``GET /ps`` on a real offload with the real llama.cpp server.

One offload process (simulated GPU, the bundled Gemma 3 270M, idle timeout 600 s) serves the
module; the tests run in file order and share its state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from support.offload_host import GEMMA, OffloadHost, prepare_registry, running
from support.require import missing

pytestmark = pytest.mark.llama
HELLO = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, gemma_path: Path) -> Iterator[OffloadHost]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    root = tmp_path_factory.mktemp("keep-alive")
    registry = prepare_registry(root / "registry.db", gemma_path)
    with running(OffloadHost(root / "host", registry)) as started:
        yield started


def client(host: OffloadHost) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=host.base + "/v1", api_key="unused", max_retries=0)


async def chat(host: OffloadHost, **extra: Any) -> str:
    reply = await client(host).chat.completions.create(
        model=GEMMA, messages=HELLO, max_tokens=8, temperature=0, extra_body=extra
    )
    return reply.choices[0].message.content or ""


async def ps_entry(host: OffloadHost) -> dict[str, Any]:
    status, body = await host.call("GET", "/ps")
    assert status == 200
    (entry,) = [m for m in body["models"] if m["model"] == GEMMA]
    return entry


async def wait_unloaded(host: OffloadHost) -> None:
    """Until offload counts one unload of Gemma (its server stopped), for up to 30 s."""
    for _ in range(300):
        if await host.counter("offload_unloads_total", GEMMA) == 1:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{GEMMA} was not unloaded")


async def test_keep_alive_zero_unloads_the_model_after_the_request(host: OffloadHost) -> None:
    assert await chat(host, keep_alive=0)
    await wait_unloaded(host)
    assert GEMMA not in await host.loaded()


async def test_a_duration_sets_until_when_the_model_stays_loaded(host: OffloadHost) -> None:
    assert await chat(host, keep_alive="2h")
    entry = await ps_entry(host)
    assert entry["until"] == "idle"
    assert 7000 < entry["expires_in_s"] <= 7200


async def test_a_negative_keep_alive_keeps_the_model_loaded_forever(host: OffloadHost) -> None:
    assert await chat(host, keep_alive="-1m")
    entry = await ps_entry(host)
    assert (entry["until"], entry["expires_in_s"], entry["expires_at"]) == ("forever", None, None)


async def test_a_request_without_keep_alive_returns_to_the_idle_timeout(host: OffloadHost) -> None:
    assert await chat(host)
    entry = await ps_entry(host)
    assert entry["until"] == "idle"
    assert 500 < entry["expires_in_s"] <= 600


async def test_ps_shows_size_split_and_context_like_ollama_ps(host: OffloadHost) -> None:
    entry = await ps_entry(host)
    assert entry["processor"] == "100% GPU"
    assert entry["context"] == 1024
    assert entry["size_mib"] == entry["vram_mib"] > 0
    _, body = await host.call("GET", "/ps")
    (gpu,) = body["gpus"]
    assert gpu["used_mib"] >= entry["vram_mib"]


async def test_a_bad_keep_alive_is_a_400_and_loads_nothing(host: OffloadHost) -> None:
    await host.call("POST", f"/models/{GEMMA}/unload")
    with pytest.raises(openai.BadRequestError) as caught:
        await chat(host, keep_alive="soon")
    assert caught.value.status_code == 400
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "invalid_request"
    assert "keep_alive" in caught.value.body["message"]
    assert await host.loaded() == []


@pytest.mark.parametrize("value", [True, [1], {"m": 5}, "5 minutes"])
async def test_keep_alive_of_the_wrong_type_is_a_400(host: OffloadHost, value: Any) -> None:
    status, body = await host.call(
        "POST", "/v1/completions", {"model": GEMMA, "prompt": "Hi", "keep_alive": value}
    )
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
