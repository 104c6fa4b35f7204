"""Remote OpenAI-compatible servers (vLLM, TGI): health and model list through ``/v1/models``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from securellm.offload.backends.remote import probe_openai


@pytest.fixture
async def vllm_like() -> AsyncIterator[str]:
    async def models(_request: web.Request) -> web.Response:
        data = [{"id": "Qwen/Qwen2.5-7B-Instruct", "object": "model", "owned_by": "vllm"}]
        return web.json_response({"object": "list", "data": data})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    await runner.cleanup()


async def test_healthy_remote_lists_its_models(vllm_like: str) -> None:
    async with aiohttp.ClientSession() as session:
        status = await probe_openai(session, "desktop", vllm_like)
    assert status["healthy"] is True
    assert status["models"] == ["Qwen/Qwen2.5-7B-Instruct"]


async def test_unreachable_remote_is_unhealthy() -> None:
    async with aiohttp.ClientSession() as session:
        status = await probe_openai(session, "gone", "http://127.0.0.1:9/v1")
    assert status["healthy"] is False
    assert status["error"]


async def test_remote_answering_an_error_is_unhealthy(vllm_like: str) -> None:
    async with aiohttp.ClientSession() as session:
        status = await probe_openai(session, "wrong", vllm_like.removesuffix("/v1") + "/nope")
    assert status["healthy"] is False
    assert status["error"] == "HTTP 404"
