"""``[knowledge] embedding_model = "auto"`` (the default): find a model that embeds.

The gateway's ``GET /v1/models`` is asked (until it answers once): a model whose id says
``embed`` is preferred (a dedicated embedding model, e.g. ``local/nomic-embed-text``); else
the first model of a local provider (offload, llama.cpp, Ollama: offload serves
``/v1/embeddings`` for every local model). With neither, or while the gateway cannot be
asked, search answers by keyword and ``keyword_reason`` says why (asked again after
``embedding_retry_s``).
"""

from __future__ import annotations

import time
from typing import Any

from securellm.mcp.errors import UpstreamError
from securellm.mcp.knowledge.embedder import EmbeddingUnavailableError, GatewayEmbedder
from securellm.mcp.knowledge.vectors import Matrix
from securellm.mcp.stack.client import StackClient

AUTO = "auto"
LOCAL_KINDS = frozenset({"offload", "llamacpp", "ollama"})
MODELS_PATH = "/v1/models"


def pick_model(listing: Any, local_providers: frozenset[str]) -> str | None:
    """The model to embed with from an OpenAI model list, or ``None``."""
    data = listing.get("data") if isinstance(listing, dict) else None
    items = data if isinstance(data, list) else []
    ids = [
        item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)
    ]
    named = [model for model in ids if "embed" in model.lower()]
    local = [model for model in ids if model.split("/", 1)[0] in local_providers]
    chosen = named or local
    return chosen[0] if chosen else None


class AutoEmbedder(GatewayEmbedder):
    """A :class:`GatewayEmbedder` whose model is picked from the gateway's list when needed."""

    def __init__(self, stack: StackClient, local_providers: frozenset[str], retry_s: float) -> None:
        super().__init__(stack, AUTO)
        self._local = local_providers
        self._retry_s = retry_s
        self._failed: tuple[float, str] | None = None

    async def resolve(self) -> str:
        if self.model != AUTO:
            return self.model
        if self._failed is not None and time.monotonic() - self._failed[0] < self._retry_s:
            raise EmbeddingUnavailableError(self._failed[1])
        try:
            admin = self._stack.has_master_key
            listing = await self._stack.get_json("gateway", MODELS_PATH, admin=admin)
        except UpstreamError as exc:
            raise self._fail(f"cannot list the gateway's models: {exc}") from None
        picked = pick_model(listing, self._local)
        if picked is None:
            raise self._fail("the gateway lists no embedding model and no local model")
        self.model = picked
        return picked

    async def embed(self, texts: list[str]) -> list[Matrix]:
        await self.resolve()
        return await super().embed(texts)

    def _fail(self, why: str) -> EmbeddingUnavailableError:
        reason = f"embedding_model auto: {why}"
        self._failed = (time.monotonic(), reason)
        return EmbeddingUnavailableError(reason)
