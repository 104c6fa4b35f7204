"""The Ollama backend against an in-test server speaking Ollama's documented wire format
(``POST /api/generate`` with ``keep_alive``, ``GET /api/ps``, ``GET /api/tags``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from securellm.core.config import Settings
from securellm.offload.backends.base import ServerState
from securellm.offload.backends.ollama import OllamaServer, running_models
from securellm.offload.errors import BackendError
from securellm.offload.gpu import SimulatedGpu, VramMonitor
from securellm.offload.registry import Registry
from securellm.offload.scheduler import Scheduler
from securellm.offload.service import ProcessFactory, candidates

from .conftest import TinyWriter

GIB = 1024**3


class FakeOllama:
    def __init__(self) -> None:
        self.loaded: set[str] = set()
        self.generate_bodies: list[dict[str, Any]] = []
        self.known = {"llama3.2:3b"}

    async def generate(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.generate_bodies.append(body)
        model = body["model"]
        if model not in self.known:
            return web.json_response({"error": f"model '{model}' not found"}, status=404)
        if body.get("keep_alive") == 0:
            self.loaded.discard(model)
            reason = "unload"
        else:
            self.loaded.add(model)
            reason = "load"
        return web.json_response(
            {"model": model, "created_at": "2026-01-01T00:00:00Z", "response": "", "done": True,
             "done_reason": reason}
        )  # fmt: skip

    async def ps(self, _request: web.Request) -> web.Response:
        models = [
            {"name": m, "model": m, "size": 3 * GIB, "digest": "ab" * 32,
             "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B",
                         "quantization_level": "Q4_K_M"},
             "expires_at": "2026-01-01T00:05:00Z", "size_vram": 2 * GIB}
            for m in sorted(self.loaded)
        ]  # fmt: skip
        return web.json_response({"models": models})

    async def tags(self, _request: web.Request) -> web.Response:
        return web.json_response({"models": [{"name": m, "model": m} for m in self.known]})


@pytest.fixture
async def ollama() -> AsyncIterator[tuple[FakeOllama, str]]:
    fake = FakeOllama()
    app = web.Application()
    app.router.add_post("/api/generate", fake.generate)
    app.router.add_get("/api/ps", fake.ps)
    app.router.add_get("/api/tags", fake.tags)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_start_loads_with_keep_alive_forever(ollama: tuple[FakeOllama, str]) -> None:
    fake, url = ollama
    async with aiohttp.ClientSession() as session:
        server = OllamaServer("llama3.2:3b", "llama3.2:3b", url, session)
        await server.start()
        assert server.state is ServerState.READY
    assert fake.loaded == {"llama3.2:3b"}
    assert fake.generate_bodies[0]["keep_alive"] == -1


async def test_stop_sends_keep_alive_zero(ollama: tuple[FakeOllama, str]) -> None:
    fake, url = ollama
    async with aiohttp.ClientSession() as session:
        server = OllamaServer("llama3.2:3b", "llama3.2:3b", url, session)
        await server.start()
        await server.stop()
    assert fake.loaded == set()
    assert fake.generate_bodies[-1]["keep_alive"] == 0


async def test_vram_comes_from_api_ps(ollama: tuple[FakeOllama, str]) -> None:
    _, url = ollama
    async with aiohttp.ClientSession() as session:
        server = OllamaServer("llama3.2:3b", "llama3.2:3b", url, session)
        await server.start()
        assert await server.measured_vram_mib() == 2048
        assert [m["name"] for m in await running_models(session, url)] == ["llama3.2:3b"]


async def test_unknown_model_is_a_backend_error(ollama: tuple[FakeOllama, str]) -> None:
    _, url = ollama
    async with aiohttp.ClientSession() as session:
        server = OllamaServer("nope:1b", "nope:1b", url, session)
        with pytest.raises(BackendError, match="not found"):
            await server.start()
        assert server.state is ServerState.FAILED


async def test_unreachable_ollama_is_a_backend_error() -> None:
    async with aiohttp.ClientSession() as session:
        server = OllamaServer("m:1b", "m:1b", "http://127.0.0.1:9", session)
        with pytest.raises(BackendError, match="unreachable"):
            await server.start()


async def test_scheduler_loads_and_unloads_ollama_models_through_ollama(
    ollama: tuple[FakeOllama, str],
    tmp_path: Path,
    tiny_gguf: TinyWriter,
    make_settings: Callable[..., Settings],
) -> None:
    fake, url = ollama
    store = tmp_path / "ollama"
    digest = "sha256:" + "ef" * 32
    manifest = store / "manifests/registry.ollama.ai/library/llama3.2/3b"
    manifest.parent.mkdir(parents=True)
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": digest}
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": [layer]}))
    tiny_gguf(store / "blobs" / digest.replace(":", "-"))
    settings = make_settings(ollama_dir=str(store), ollama_url=url, simulated_vram_mib=8192)
    registry = Registry(tmp_path / "registry.db")
    registry.scan(candidates(settings.offload))
    async with aiohttp.ClientSession() as session:
        factory = ProcessFactory(settings.offload, session, tmp_path / "log")
        monitor = VramMonitor(SimulatedGpu(8192), ttl_s=0)
        scheduler = Scheduler(settings.offload, registry, monitor, factory)
        slot = await scheduler.acquire("llama3.2:3b")
        scheduler.release(slot)
        assert fake.loaded == {"llama3.2:3b"}
        assert slot.vram_mib == 2048  # what /api/ps reported
        assert slot.server.base_url == f"{url}/v1"
        await scheduler.unload("llama3.2:3b")
    assert fake.loaded == set()
