"""Ollama models are discovered from ``/api/tags``; loaded ones are listed from ``/api/ps``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from securellm.core.config import ProviderSettings
from securellm.core.errors import ModelNotFound, UpstreamError
from securellm.providers.base import Call
from securellm.providers.ollama import OllamaProvider
from support.fake_ollama import MODELS, FakeOllama


@pytest.fixture
async def ollama(ollama_url: tuple[str, FakeOllama]) -> AsyncIterator[OllamaProvider]:
    provider = OllamaProvider(ProviderSettings(name="o", kind="ollama", base_url=ollama_url[0]))
    await provider.start()
    yield provider
    await provider.close()


async def test_models_come_from_api_tags(ollama: OllamaProvider) -> None:
    assert await ollama.list_models() == MODELS


async def test_running_models_come_from_api_ps(ollama: OllamaProvider) -> None:
    assert await ollama.running_models() == [MODELS[0]]


async def test_unknown_model_error_keeps_ollamas_message(ollama: OllamaProvider) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(UpstreamError) as caught:
        await ollama.chat(Call(model="nope", body=body, stream=False, request_id="r"))
    assert caught.value.status == 404
    assert "model 'nope' not found" in caught.value.message
    assert not isinstance(caught.value, ModelNotFound)
