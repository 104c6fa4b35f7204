"""offload end to end: the real llama.cpp-based server with the real Gemma 3 270M GGUF.

One ``securellm offload`` process serves the whole module on a simulated 1500 MiB GPU, too
small for two Gemma instances (about 1070 MiB each): ``gemma-3-270m`` (the bundled file) and
``gemma-b`` (a second copy, idle TTL 3 s). Tests run in file order and share its state.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openai import AsyncOpenAI

from securellm.offload.discovery import discover
from securellm.offload.gguf_meta import ModelMeta, read_gguf
from securellm.offload.registry import Registry
from support.require import free_port, missing

from .conftest import write_loadable_llama, write_tiny_gguf

pytestmark = pytest.mark.llama
GEMMA = "gemma-3-270m"
OTHER = "gemma-b"


class Live:
    def __init__(self, base: str, systemctl_log: Path) -> None:
        self.base = base
        self.systemctl_log = systemctl_log

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.base + path, json=body) as response,
        ):
            return response.status, await response.json(content_type=None)

    def openai(self) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=self.base + "/v1", api_key="unused", max_retries=0)

    async def loaded(self) -> list[str]:
        _, vram = await self.call("GET", "/health/vram")
        return [m["model"] for m in vram["loaded"]]

    async def loads_of(self, model: str) -> float:
        async with aiohttp.ClientSession() as session, session.get(self.base + "/metrics") as r:
            text = await r.text()
        prefix = f'offload_loads_total{{model="{model}"}} '
        return next((float(x[len(prefix) :]) for x in text.splitlines() if x.startswith(prefix)), 0)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _prepare(root: Path, gemma: Path, gemma_meta: ModelMeta) -> Path:
    models = root / "models"
    models.mkdir()
    _link_or_copy(gemma, models / f"{OTHER}-Q4_K_M.gguf")
    write_tiny_gguf(models / "huge-vocab.gguf", declared_vocab=50_000_000)
    write_loadable_llama(models / "tiny-llama-F16.gguf")
    (models / "corrupt.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 64)
    fake_bin = root / "bin"
    fake_bin.mkdir()
    systemctl = fake_bin / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$@" >> {root / "systemctl.log"}\n')
    systemctl.chmod(0o755)
    registry_db = root / "registry.db"

    def cached(path: Path) -> ModelMeta:  # Gemma's vocabulary takes seconds to read
        return gemma_meta if path.stat().st_size == gemma.stat().st_size else read_gguf(path)

    registry = Registry(registry_db, reader=cached)
    registry.scan(discover((models, gemma.parent), None, None))
    registry.close()
    return models


def _config(root: Path, models: Path, port: int) -> Path:
    config = root / "offload.toml"
    config.write_text(
        f"""
data_dir = "{root / "data"}"
state_dir = "{root / "state"}"
log_dir = "{root / "log"}"

[offload]
port = {port}
registry_path = "{root / "registry.db"}"
model_dirs = ["{models}"]
ollama_dir = "{root / "no-ollama"}"
huggingface_dir = "{root / "no-hf"}"
gpu = "simulated"
simulated_vram_mib = 1500
cuda_overhead_mib = 300
default_ctx = 1024
build_mode_wait_s = 1

[[offload.models]]
id = "{OTHER}"
ttl_s = 3
"""
    )
    return config


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, gemma_path: Path, gemma_meta: ModelMeta
) -> Iterator[Live]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    root = tmp_path_factory.mktemp("offload-live")
    models = _prepare(root, gemma_path, gemma_meta)
    port = free_port()
    env = {**os.environ, "PATH": f"{root / 'bin'}:{os.environ.get('PATH', '')}"}
    env.pop("SECURELLM_CONFIG", None)
    argv = [
        sys.executable,
        "-m",
        "securellm",
        "offload",
        "--config",
        str(_config(root, models, port)),
    ]
    with (root / "offload.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base, process, root / "offload.log")
        yield Live(base, root / "systemctl.log")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"offload exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("offload did not start in 60 s")


async def test_registry_lists_models_with_estimates(live: Live) -> None:
    status, body = await live.call("GET", "/models")
    assert status == 200
    models = {m["id"]: m for m in body["data"]}
    gemma = models[GEMMA]
    assert (gemma["format"], gemma["architecture"], gemma["quantization"]) == (
        "gguf",
        "gemma3",
        "Q4_K_M",
    )
    assert 900 < gemma["estimate_mib"] < 1300
    assert gemma["loaded"] is False


async def test_corrupt_file_is_listed_unusable(live: Live) -> None:
    _, body = await live.call("GET", "/models")
    corrupt = next(m for m in body["data"] if m["id"] == "corrupt")
    assert corrupt["usable"] is False
    assert corrupt["reason"]


async def test_v1_models_lists_only_usable_models(live: Live) -> None:
    ids = [m.id for m in (await live.openai().models.list()).data]
    assert GEMMA in ids
    assert OTHER in ids
    assert "corrupt" not in ids


async def test_chat_loads_the_model_on_demand_and_answers(live: Live) -> None:
    reply = await live.openai().chat.completions.create(
        model=GEMMA, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8
    )
    assert reply.model == GEMMA
    assert reply.choices[0].message.content
    assert await live.loaded() == [GEMMA]


async def test_estimate_is_within_10_percent_of_logged_buffers(live: Live) -> None:
    status, detail = await live.call("GET", f"/models/{GEMMA}")
    assert status == 200
    assert detail["measured"] is not None
    assert abs(detail["estimate_error_pct"]) < 10


async def test_streaming_chat_sends_chunks_with_our_model_id(live: Live) -> None:
    stream = await live.openai().chat.completions.create(
        model=GEMMA, messages=[{"role": "user", "content": "Count to three."}], max_tokens=6,
        stream=True,
    )  # fmt: skip
    chunks = [chunk async for chunk in stream]
    assert len(chunks) >= 2
    assert {c.model for c in chunks} == {GEMMA}


async def test_client_leaving_mid_stream_frees_the_model(live: Live) -> None:
    body = {"model": GEMMA, "messages": [{"role": "user", "content": "Tell a story."}],
            "max_tokens": 64, "stream": True}  # fmt: skip
    async with (
        aiohttp.ClientSession() as session,
        session.post(live.base + "/v1/chat/completions", json=body) as response,
    ):
        await response.content.readline()  # then hang up
    for _ in range(100):
        _, backends = await live.call("GET", "/backends")
        in_flight = [b["in_flight"] for b in backends["data"] if b["name"] == GEMMA]
        if in_flight == [0]:
            break
        await asyncio.sleep(0.1)
    assert in_flight == [0]


async def test_completions_endpoint_answers(live: Live) -> None:
    reply = await live.openai().completions.create(model=GEMMA, prompt="One, two,", max_tokens=4)
    assert reply.choices[0].text


async def test_swap_unloads_the_other_model_to_fit(live: Live) -> None:
    await live.openai().chat.completions.create(
        model=OTHER, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    )
    assert await live.loaded() == [OTHER]
    _, vram = await live.call("GET", "/health/vram")
    assert vram["gpus"][0]["used_mib"] <= vram["gpus"][0]["total_mib"]


async def test_concurrent_requests_during_a_swap_share_one_load(live: Live) -> None:
    before = await live.loads_of(GEMMA)
    client = live.openai()
    replies = await asyncio.gather(
        *(
            client.chat.completions.create(
                model=GEMMA, messages=[{"role": "user", "content": f"Hi {i}"}], max_tokens=2
            )
            for i in range(3)
        )
    )
    assert all(r.model == GEMMA for r in replies)
    assert await live.loads_of(GEMMA) == before + 1


async def test_busy_model_is_not_evicted_mid_stream(live: Live) -> None:
    client = live.openai()
    stream = await client.chat.completions.create(
        model=GEMMA, messages=[{"role": "user", "content": "Tell a story."}], max_tokens=40,
        stream=True,
    )  # fmt: skip
    pieces = [await anext(stream)]
    other = asyncio.create_task(
        client.chat.completions.create(
            model=OTHER, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
        )
    )
    await asyncio.sleep(0.5)
    assert await live.loaded() == [GEMMA]  # the other model waits; the busy one stays
    pieces.extend([chunk async for chunk in stream])
    assert pieces[-1].choices[0].finish_reason in ("length", "stop")
    await other
    assert await live.loaded() == [OTHER]


async def test_idle_model_is_unloaded_after_its_ttl(live: Live) -> None:
    if OTHER not in await live.loaded():
        await live.call("POST", f"/models/{OTHER}/load")
    for _ in range(60):
        if OTHER not in await live.loaded():
            break
        await asyncio.sleep(0.25)
    assert OTHER not in await live.loaded()


async def test_model_that_can_never_fit_gives_507_with_numbers(live: Live) -> None:
    body = {"model": "huge-vocab", "prompt": "Hi"}  # it has no chat template
    status, error = await live.call("POST", "/v1/completions", body)
    assert status == 507
    assert error["error"]["code"] == "insufficient_vram"
    assert "1500 MiB" in error["error"]["message"]


async def test_unusable_model_is_refused_with_its_reason(live: Live) -> None:
    body = {"model": "corrupt", "messages": [{"role": "user", "content": "Hi"}]}
    status, error = await live.call("POST", "/v1/chat/completions", body)
    assert status == 422
    assert "unusable" in error["error"]["message"]


async def test_unknown_model_is_404_in_openai_shape(live: Live) -> None:
    body = {"model": "no-such-model", "messages": [{"role": "user", "content": "Hi"}]}
    status, error = await live.call("POST", "/v1/chat/completions", body)
    assert status == 404
    assert set(error["error"]) == {"message", "type", "param", "code"}


async def test_invalid_json_is_400(live: Live) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(live.base + "/v1/chat/completions", data=b"{not json") as response,
    ):
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_request"


async def test_backends_lists_the_loaded_process(live: Live) -> None:
    await live.call("POST", f"/models/{GEMMA}/load")
    _, body = await live.call("GET", "/backends")
    [entry] = [b for b in body["data"] if b["name"] == GEMMA]
    assert entry["kind"] == "llamacpp"
    assert entry["pid"] > 0


async def test_build_mode_unloads_everything_and_stops_units(live: Live) -> None:
    await live.call("POST", f"/models/{GEMMA}/load")
    status, report = await live.call("POST", "/mode", {"mode": "build"})
    assert status == 200
    assert report["unloaded"] == [GEMMA]
    assert live.systemctl_log.read_text().splitlines() == [
        "stop llamacpp.service",
        "stop ollama.service",
    ]
    assert await live.loaded() == []
    assert report["below_threshold"] is True


async def test_build_mode_refuses_inference(live: Live) -> None:
    body = {"model": GEMMA, "messages": [{"role": "user", "content": "Hi"}]}
    status, error = await live.call("POST", "/v1/chat/completions", body)
    assert status == 409
    assert "build mode" in error["error"]["message"]


async def test_local_mode_restarts_units_and_serves_again(live: Live) -> None:
    status, _ = await live.call("POST", "/mode", {"mode": "local"})
    assert status == 200
    assert live.systemctl_log.read_text().splitlines()[-2:] == [
        "start llamacpp.service",
        "start ollama.service",
    ]
    assert (await live.call("GET", "/mode"))[1] == {"mode": "local"}
    reply = await live.openai().chat.completions.create(
        model=GEMMA, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    )
    assert reply.choices


async def test_second_architecture_estimate_is_within_10_percent(live: Live) -> None:
    # a 4-layer llama without sliding window and with its own output matrix, next to Gemma
    reply = await live.openai().completions.create(model="tiny-llama", prompt="t1", max_tokens=2)
    assert reply.model == "tiny-llama"
    _, detail = await live.call("GET", "/models/tiny-llama")
    assert abs(detail["estimate_error_pct"]) < 10


async def test_metrics_are_exposed(live: Live) -> None:
    assert await live.loads_of(GEMMA) >= 3
