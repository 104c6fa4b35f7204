"""Ollama as a backend: load and unload through its API (``keep_alive: 0`` frees the model)."""

from __future__ import annotations

from typing import Any

import aiohttp

from securellm.offload.backends.base import Lifecycle, ServerState
from securellm.offload.errors import BackendError
from securellm.offload.estimate import Buffers

MIB = 1024 * 1024


class OllamaServer:
    """One model inside a running Ollama; ``base_url`` is Ollama's OpenAI-compatible API."""

    kind = "ollama"

    def __init__(
        self, model_id: str, ollama_model: str, root_url: str, session: aiohttp.ClientSession
    ):
        self.model_id = model_id
        self.upstream_model = ollama_model
        self.root_url = root_url.rstrip("/")
        self.base_url = f"{self.root_url}/v1"
        self._session = session
        self._life = Lifecycle()

    @property
    def state(self) -> ServerState:
        return self._life.state

    @property
    def pid(self) -> int | None:
        return None

    async def _generate(self, keep_alive: int) -> None:
        body = {
            "model": self.upstream_model,
            "prompt": "",
            "keep_alive": keep_alive,
            "stream": False,
        }
        try:
            async with self._session.post(f"{self.root_url}/api/generate", json=body) as response:
                data: Any = await response.json(content_type=None)
                if response.status != 200:
                    error = data.get("error") if isinstance(data, dict) else None
                    raise BackendError(
                        f"Ollama refused {self.upstream_model}: {error or response.status}"
                    )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise BackendError(f"Ollama at {self.root_url} is unreachable: {exc}") from exc

    async def start(self) -> None:
        self._life.move(ServerState.STARTING)
        try:
            await self._generate(keep_alive=-1)  # offload's scheduler owns the idle timeout
        except BackendError:
            self._life.move(ServerState.FAILED)
            raise
        self._life.move(ServerState.READY)

    async def stop(self) -> None:
        if self._life.state in (ServerState.STOPPED, ServerState.STOPPING):
            return
        self._life.move(ServerState.STOPPING)
        try:
            await self._generate(keep_alive=0)
        finally:
            self._life.move(ServerState.STOPPED)

    def buffers(self) -> Buffers | None:
        return None

    async def measured_vram_mib(self) -> int | None:
        for model in await running_models(self._session, self.root_url):
            if (
                model.get("name") == self.upstream_model
                or model.get("model") == self.upstream_model
            ):
                return int(model.get("size_vram", 0)) // MIB
        return None


async def running_models(session: aiohttp.ClientSession, root_url: str) -> list[dict[str, Any]]:
    """``GET /api/ps``: the models Ollama holds in memory."""
    try:
        async with session.get(f"{root_url}/api/ps") as response:
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise BackendError(f"Ollama at {root_url} is unreachable: {exc}") from exc
    models = data.get("models") if isinstance(data, dict) else None
    return [m for m in models or [] if isinstance(m, dict)]
