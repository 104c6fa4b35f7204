"""Semantic search's moving parts: the background embedder and the bundle the tools use.

The worker embeds every pending entry (see :mod:`securellm.mcp.knowledge.vectors`) in
batches, then sleeps until a save wakes it; when the gateway cannot embed, it tries again
after ``embedding_retry_s``. So entries saved while the gateway was down become findable by
meaning once it is back, without anyone re-saving them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from functools import partial

import anyio

from securellm.core.config.knowledge import KnowledgeSettings
from securellm.mcp.errors import KnowledgeError
from securellm.mcp.knowledge.auto_model import AUTO, AutoEmbedder
from securellm.mcp.knowledge.embedder import EmbeddingUnavailableError, GatewayEmbedder
from securellm.mcp.knowledge.hybrid import HybridSearch
from securellm.mcp.knowledge.store import KnowledgeStore
from securellm.mcp.knowledge.vectors import VectorIndex, pending, pending_count, store_vectors
from securellm.mcp.stack.client import StackClient

log = logging.getLogger(__name__)
LOAD_CHUNK = 5000  # vectors read per turn of the store's lock at start


class EmbeddingWorker:
    """Embeds pending entries; :meth:`run` is a task for the server's lifetime."""

    def __init__(
        self,
        store: KnowledgeStore,
        embedder: GatewayEmbedder,
        settings: KnowledgeSettings,
        index: VectorIndex | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._settings = settings
        self._index = index
        self._wake: anyio.Event | None = None
        self.last_error: str | None = None
        self._loaded: str | None = None

    def nudge(self) -> None:
        """Something was saved: look for pending entries now."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        self._wake = anyio.Event()
        while True:
            try:
                await self._ready()
                await self.embed_pending()
                self.last_error = None
                delay = math.inf
            except EmbeddingUnavailableError as exc:
                if self.last_error is None:
                    log.warning("embeddings unavailable; retrying", extra={"error": str(exc)})
                self.last_error = str(exc)
                delay = self._settings.embedding_retry_s
            except KnowledgeError as exc:
                log.warning("cannot embed pending entries", extra={"error": str(exc)})
                delay = self._settings.embedding_retry_s
            with anyio.move_on_after(delay):
                await self._wake.wait()
            self._wake = anyio.Event()

    async def _ready(self) -> None:
        """Know the model (``auto`` asks the gateway) and hold its vectors in the index."""
        model = await self._embedder.resolve()
        if self._index is not None and self._loaded != model:
            self._index.switch(model)
            await self._load()
            self._loaded = model

    async def _load(self) -> None:
        """Read the vectors now, not in the first search, a chunk per turn of the store's lock
        (so saves and searches are not held up for the seconds 100,000 vectors take)."""
        if self._index is None:
            return
        read = partial(self._index.refresh, max_rows=LOAD_CHUNK)
        while await anyio.to_thread.run_sync(self._store.call, read) == LOAD_CHUNK:
            pass

    async def embed_pending(self) -> int:
        """Embed until nothing is pending; the number of entries embedded."""
        model, done = await self._embedder.resolve(), 0
        batch, chars = self._settings.embedding_batch, self._settings.embedding_max_chars
        while True:
            items = await anyio.to_thread.run_sync(
                self._store.call, lambda c: pending(c, model, batch, chars)
            )
            if not items:
                return done
            vectors = await self._embedder.embed([item.text for item in items])
            pairs = list(zip(items, vectors, strict=True))
            write = partial(store_vectors, model=model, items=pairs)
            await anyio.to_thread.run_sync(self._store.call, write)
            done += len(items)

    def pending(self) -> int:
        return self._store.call(lambda c: pending_count(c, self._embedder.model))


@dataclass
class Semantic:
    """What the knowledge tools need for hybrid search."""

    search: HybridSearch
    worker: EmbeddingWorker
    index: VectorIndex = field(repr=False)


def build_semantic(
    store: KnowledgeStore,
    stack: StackClient,
    settings: KnowledgeSettings,
    local_providers: frozenset[str] = frozenset(),
) -> Semantic | None:
    """The semantic parts, or ``None`` when embeddings are off (``""`` / ``"off"``);
    ``local_providers``: the gateway's providers of a local kind (for ``auto``)."""
    if settings.embedding_model is None:
        return None
    embedder = (
        AutoEmbedder(stack, local_providers, settings.embedding_retry_s)
        if settings.embedding_model == AUTO
        else GatewayEmbedder(stack, settings.embedding_model)
    )
    index = VectorIndex(embedder.model)
    return Semantic(
        search=HybridSearch(store, embedder, index),
        worker=EmbeddingWorker(store, embedder, settings, index),
        index=index,
    )
