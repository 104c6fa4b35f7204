"""Embeddings through the gateway's OpenAI-compatible ``POST /v1/embeddings``."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from securellm.mcp.errors import UpstreamError
from securellm.mcp.knowledge.vectors import Matrix
from securellm.mcp.stack.client import StackClient

EMBEDDINGS_PATH = "/v1/embeddings"


class EmbeddingUnavailableError(Exception):
    """No vector now: the reason says why (shown as the search's ``keyword_reason``)."""


class GatewayEmbedder:
    """Asks the gateway for the vectors of ``model``; any failure is one exception."""

    def __init__(self, stack: StackClient, model: str) -> None:
        self._stack = stack
        self.model = model

    async def resolve(self) -> str:
        """The model the vectors come from (a subclass may have to find it first)."""
        return self.model

    async def embed(self, texts: list[str]) -> list[Matrix]:
        try:
            reply = await self._stack.post_json(
                "gateway",
                EMBEDDINGS_PATH,
                {"model": self.model, "input": texts, "encoding_format": "float"},
            )
        except UpstreamError as exc:
            raise EmbeddingUnavailableError(f"gateway unreachable or failing: {exc}") from None
        return parse_embeddings(reply, len(texts))


def parse_embeddings(reply: Any, expected: int) -> list[Matrix]:
    """The ``data[].embedding`` lists of an OpenAI embeddings response, in ``index`` order."""
    data = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(data, list) or len(data) != expected:
        raise EmbeddingUnavailableError("the gateway's embeddings answer has the wrong shape")
    ordered = sorted(data, key=lambda item: item.get("index", 0) if isinstance(item, dict) else 0)
    vectors: list[Matrix] = []
    for item in ordered:
        values = item.get("embedding") if isinstance(item, dict) else None
        if not isinstance(values, list) or not values:
            raise EmbeddingUnavailableError("the gateway's embeddings answer has no vector")
        try:
            vector = np.asarray(values, dtype=np.float32)
        except (TypeError, ValueError):
            raise EmbeddingUnavailableError("the gateway's embedding is not numbers") from None
        if vector.ndim == 2 and vector.shape[0] > 0:
            # One vector per token (llama.cpp's server for a model with no pooling): mean-pool.
            vector = vector.mean(axis=0)
        if vector.ndim != 1 or not np.all(np.isfinite(vector)):
            raise EmbeddingUnavailableError("the gateway's embedding is not a finite vector")
        vectors.append(vector)
    if len({v.shape[0] for v in vectors}) > 1:
        raise EmbeddingUnavailableError("the gateway's embeddings differ in length")
    return vectors


QUERY_CACHE_SIZE = 256


class QueryEmbeddings:
    """The vectors of recent search queries, least recently used dropped first: a repeated
    query (a client retrying, paging with ``offset``) costs no embedding call."""

    def __init__(self, embedder: GatewayEmbedder, size: int = QUERY_CACHE_SIZE) -> None:
        self._embedder = embedder
        self._size = size
        self._cache: OrderedDict[tuple[str, str], Matrix] = OrderedDict()

    async def vector(self, text: str) -> Matrix:
        key = (await self._embedder.resolve(), text)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        [vector] = await self._embedder.embed([text])
        self._cache[key] = vector
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return vector
