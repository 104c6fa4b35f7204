"""The serving path on the real llama.cpp-based server with the real Gemma 3 270M GGUF.

One offload (real uvicorn, simulated 4000 MiB GPU) serves two copies of the bundled file:
``gemma-3-270m`` itself (the default queue) and ``gemma-copy``, a copy in a model directory
with a queue of one. Requests to one model must never cut each other; a full queue answers
503 with Retry-After; the copy chats like the bundled file; bad input never reaches a model.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from securellm.core.config import settings_from_mapping
from securellm.offload.api import create_app
from securellm.offload.discovery import discover
from securellm.offload.gguf_meta import ModelMeta, read_gguf
from securellm.offload.registry import Registry
from support.asgi_server import serve_app
from support.require import missing

pytestmark = pytest.mark.llama
GEMMA = "gemma-3-270m"
COPY = "gemma-copy"
NO_END = {"1": -100.0, "106": -100.0}  # Gemma's <eos> and <end_of_turn>: run to max_tokens


def _registry(root: Path, models: Path, gemma: Path, gemma_meta: ModelMeta) -> None:
    def cached(path: Path) -> ModelMeta:  # Gemma's vocabulary takes seconds to read
        return gemma_meta if path.stat().st_size == gemma.stat().st_size else read_gguf(path)

    registry = Registry(root / "registry.db", reader=cached)
    registry.scan(discover((models, gemma.parent), None, None))
    registry.close()


@pytest.fixture(scope="module")
def base(
    tmp_path_factory: pytest.TempPathFactory, gemma_path: Path, gemma_meta: ModelMeta
) -> Iterator[str]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    root = tmp_path_factory.mktemp("offload-serving")
    models = root / "models"
    models.mkdir()
    shutil.copyfile(gemma_path, models / f"{COPY}.gguf")
    _registry(root, models, gemma_path, gemma_meta)
    section = {
        "model_dirs": [str(models), str(gemma_path.parent)], "ollama_dir": None,
        "huggingface_dir": None, "include_bundled": False,
        "registry_path": str(root / "registry.db"), "gpu": "simulated",
        "simulated_vram_mib": 4000, "default_ctx": 1024, "gpu_units": [],
        "max_body_bytes": 64 * 1024, "models": [{"id": COPY, "queue": 1}],
    }  # fmt: skip
    raw = {"data_dir": str(root / "data"), "state_dir": str(root / "state"),
           "log_dir": str(root / "log"), "offload": section}  # fmt: skip
    os.environ.pop("SECURELLM_CONFIG", None)
    with serve_app(create_app(settings_from_mapping(raw, env={}))) as url:
        yield url


async def _json(method: str, url: str, body: Any = None) -> tuple[int, Any, Any]:
    async with aiohttp.ClientSession() as session, session.request(method, url, json=body) as r:
        return r.status, await r.json(content_type=None), r.headers


def _completion(model: str, tokens: int) -> dict[str, Any]:
    return {"model": model, "prompt": "Once upon a time", "max_tokens": tokens,
            "stream": True, "logit_bias": NO_END, "temperature": 0}  # fmt: skip


async def _events(response: aiohttp.ClientResponse) -> AsyncIterator[Any]:
    import orjson

    async for line in response.content:
        if line.startswith(b"data: {"):
            yield orjson.loads(line[6:])


async def _stream(base: str, model: str, tokens: int) -> list[Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(base + "/v1/completions", json=_completion(model, tokens)) as response,
    ):
        assert response.status == 200
        return [event async for event in _events(response)]


def _tokens(events: list[Any]) -> int:
    return sum(1 for e in events if e["choices"] and e["choices"][0].get("text"))


def _finish(events: list[Any]) -> str | None:
    reasons = [e["choices"][0].get("finish_reason") for e in events if e["choices"]]
    return reasons[-1] if reasons else None


async def _backend(base: str, model: str) -> dict[str, Any]:
    _, body, _ = await _json("GET", base + "/backends")
    return next(b for b in body["data"] if b["name"] == model)


async def _until_waiting(base: str, model: str, count: int) -> None:
    for _ in range(200):
        if (await _backend(base, model))["waiting"] == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{model} never had {count} requests waiting")


async def test_two_concurrent_streams_on_one_model_both_run_to_their_end(base: str) -> None:
    first = asyncio.create_task(_stream(base, GEMMA, 24))
    await asyncio.sleep(1.0)  # the first is streaming when the second arrives
    second = asyncio.create_task(_stream(base, GEMMA, 24))
    for events in await asyncio.gather(first, second):
        assert _finish(events) == "length"
        assert _tokens(events) == 24


async def test_a_request_that_finds_the_queue_full_gets_503_with_retry_after(base: str) -> None:
    running = asyncio.create_task(_stream(base, COPY, 48))
    await _until_running(base, COPY)
    queued = asyncio.create_task(_stream(base, COPY, 4))
    await _until_waiting(base, COPY, 1)
    status, body, headers = await _json("POST", base + "/v1/completions", _completion(COPY, 4))
    assert status == 503
    assert body["error"]["code"] == "queue_full"
    assert int(headers["Retry-After"]) >= 1
    for events in await asyncio.gather(running, queued):
        assert _finish(events) == "length"


async def _until_running(base: str, model: str) -> None:
    for _ in range(600):
        _, body, _ = await _json("GET", base + "/backends")
        if any(b["name"] == model and b["running"] for b in body["data"]):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{model} never ran a request")


async def test_a_waiting_client_that_hangs_up_leaves_the_queue(base: str) -> None:
    running = asyncio.create_task(_stream(base, COPY, 48))
    await _until_running(base, COPY)
    leaving = asyncio.create_task(_stream(base, COPY, 4))
    await _until_waiting(base, COPY, 1)
    leaving.cancel()
    await _until_waiting(base, COPY, 0)
    assert _finish(await running) == "length"
    assert (await _backend(base, COPY))["running"] == 0


async def test_the_bundled_gemma_copied_into_a_model_dir_answers_a_chat(base: str) -> None:
    body = {"model": COPY, "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 16, "temperature": 0}  # fmt: skip
    status, reply, _ = await _json("POST", base + "/v1/chat/completions", body)
    assert status == 200
    assert reply["choices"][0]["message"]["content"].strip()
    assert reply["usage"]["completion_tokens"] > 0


async def test_the_copy_is_listed_with_the_chat_format_it_gets(base: str) -> None:
    _, listing, _ = await _json("GET", base + "/models")
    chats = {m["id"]: m["chat"] for m in listing["data"]}
    assert chats[COPY] == chats[GEMMA] == {
        "source": "known-model", "format": "transcript", "reason": None,
    }  # fmt: skip


async def test_busy_unload_is_409_model_busy(base: str) -> None:
    running = asyncio.create_task(_stream(base, GEMMA, 32))
    await _until_running(base, GEMMA)
    status, body, _ = await _json("POST", base + f"/models/{GEMMA}/unload")
    assert (status, body["error"]["code"]) == (409, "model_busy")
    assert _finish(await running) == "length"


async def test_the_upstream_passthrough_relays_the_model_servers_own_api(base: str) -> None:
    status, props, _ = await _json("GET", base + f"/upstream/{GEMMA}/props")
    assert status == 200
    assert props["default_generation_settings"]["n_ctx"] == 1024
    status, models, _ = await _json("GET", base + f"/upstream/{GEMMA}/v1/models")
    assert status == 200 and models["object"] == "list"


async def test_the_upstream_passthrough_streams_an_answer(base: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(base + f"/upstream/{GEMMA}/v1/completions",
                     json=_completion(GEMMA, 6)) as response,
    ):  # fmt: skip
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [event async for event in _events(response)]
    assert _tokens(events) == 6


@pytest.mark.parametrize(
    "body",
    [
        {"model": GEMMA},
        {"model": GEMMA, "messages": [{"role": "user", "content": "hi"}], "max_tokens": -1},
        {"model": GEMMA, "messages": [{"role": "user", "content": "hi"}], "stream": "yes"},
    ],
)
async def test_bad_chat_bodies_are_400_on_the_real_server(base: str, body: Any) -> None:
    status, error, _ = await _json("POST", base + "/v1/chat/completions", body)
    assert (status, error["error"]["code"]) == (400, "invalid_request")


async def test_an_empty_prompt_is_400_on_the_real_server(base: str) -> None:
    status, error, _ = await _json("POST", base + "/v1/completions", {"model": GEMMA, "prompt": ""})
    assert (status, error["error"]["type"]) == (400, "invalid_request_error")


async def test_a_chunked_body_over_the_limit_is_413_on_the_real_server(base: str) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"model": "gemma-3-270m", "prompt": "'
        for _ in range(128):
            yield b"x" * 1024
        yield b'"}'

    async with (
        aiohttp.ClientSession() as session,
        session.post(base + "/v1/completions", data=body()) as response,
    ):
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "body_too_large"
