"""Hybrid search: bm25 and embedding similarity fused by reciprocal rank (RRF).

Each list ranks candidates on its own; an entry's fused score is ``sum(1 / (K + rank))`` over
the lists it is in, so an entry both lists like comes first and neither list's scale matters.
Without a model, or while the gateway cannot embed the query, the keyword ranking answers
alone and the page says so (``mode`` / ``keyword_reason``).
"""

from __future__ import annotations

from dataclasses import replace

import anyio

from securellm.mcp.knowledge.embedder import (
    EmbeddingUnavailableError,
    GatewayEmbedder,
    QueryEmbeddings,
)
from securellm.mcp.knowledge.filters import matches
from securellm.mcp.knowledge.models import SearchHit, SearchPage
from securellm.mcp.knowledge.search import SearchQuery
from securellm.mcp.knowledge.store import KnowledgeStore
from securellm.mcp.knowledge.vectors import VectorIndex

RRF_K = 60
CANDIDATES = 20  # from each list, beyond the page asked for
NO_MODEL = "no embedding model configured ([knowledge] embedding_model)"
NOTHING_EMBEDDED = "no entry has an embedding yet"


def keyword_only(page: SearchPage, reason: str) -> SearchPage:
    return page.model_copy(update={"mode": "keyword", "keyword_reason": reason})


class HybridSearch:
    """Keyword search plus, when a model answers, nearest neighbours by embedding."""

    def __init__(
        self, store: KnowledgeStore, embedder: GatewayEmbedder, index: VectorIndex
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._queries = QueryEmbeddings(embedder)
        self._index = index

    async def search(self, query: SearchQuery) -> SearchPage:
        assert query.text is not None
        want = query.offset + query.limit
        wide = replace(query, limit=want + CANDIDATES, offset=0)
        keyword = await anyio.to_thread.run_sync(self._store.search, wide)
        try:
            vector = await self._queries.vector(query.text)
        except EmbeddingUnavailableError as exc:
            return keyword_only(await self._keyword_page(query), str(exc))
        self._index.switch(self._embedder.model)  # "auto" is resolved by now
        await anyio.to_thread.run_sync(self._store.call, self._index.refresh)
        if not len(self._index):
            return keyword_only(await self._keyword_page(query), NOTHING_EMBEDDED)
        k = want + CANDIDATES * (4 if _filtered(query) else 1)
        near = await anyio.to_thread.run_sync(self._index.nearest, vector, k)
        semantic = await anyio.to_thread.run_sync(self._semantic_hits, near, query)
        fused = fuse([keyword.hits, semantic])
        page = fused[query.offset : want]
        return SearchPage(
            hits=page,
            next_offset=want if len(fused) > want else None,
            corrupt_skipped=keyword.corrupt_skipped,
            terms=keyword.terms,
            mode="hybrid",
        )

    async def _keyword_page(self, query: SearchQuery) -> SearchPage:
        return await anyio.to_thread.run_sync(self._store.search, query)

    def _semantic_hits(self, near: list[tuple[int, float]], query: SearchQuery) -> list[SearchHit]:
        entries = self._store.get_many([entry_id for entry_id, _ in near])
        gone = {entry_id for entry_id, _ in near if entry_id not in entries}
        if gone:
            self._index.forget(gone)
        hits = []
        for entry_id, similarity in near:
            entry = entries.get(entry_id)
            if entry is not None and matches(entry, query):
                hits.append(SearchHit(entry=entry, score=-similarity, snippet=entry.content[:200]))
        return hits


def fuse(rankings: list[list[SearchHit]]) -> list[SearchHit]:
    """Reciprocal-rank fusion; the hit keeps the first list's snippet (the keyword one)."""
    scores: dict[int, float] = {}
    first: dict[int, SearchHit] = {}
    for hits in rankings:
        for rank, hit in enumerate(hits, start=1):
            scores[hit.entry.id] = scores.get(hit.entry.id, 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(hit.entry.id, hit)
    order = sorted(scores, key=lambda entry_id: (-scores[entry_id], entry_id))
    return [first[i].model_copy(update={"score": -scores[i]}) for i in order]


def _filtered(query: SearchQuery) -> bool:
    return bool(query.types or query.tags or query.session_id or query.project) or bool(
        query.since or query.until
    )
