"""Hybrid (bm25 + embedding) search on 100,000 entries, beside keyword-only search, one run.

The vectors are random unit vectors of ``--dim`` floats (768: nomic-embed / bge-base size)
and the query's vector is ready in memory, so the figures are what the knowledge base adds
to a search (nearest neighbours in numpy, rank fusion, filters, reading the entries); the
gateway's embedding call comes on top and depends on the model (``mcp_search.py --embed``
measures it over stdio). The fast path (sign codes, exact rescoring) is shown beside the
exact product, with its recall@10 against exact on random vectors (the worst case: every
vector is nearly orthogonal to every other) and on clustered ones (like real embeddings).
Run: ``OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/mcp_semantic.py``.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import anyio
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.mcp_search import measure, percentiles, populate_v2, queries, vocabulary
from securellm.mcp.knowledge.embedder import GatewayEmbedder
from securellm.mcp.knowledge.hybrid import HybridSearch
from securellm.mcp.knowledge.search import SearchQuery
from securellm.mcp.knowledge.store import KnowledgeStore
from securellm.mcp.knowledge.vectors import Matrix, VectorIndex

MODEL = "bench"


class ReadyEmbedder(GatewayEmbedder):
    """Answers with a fixed vector per text, without a gateway."""

    def __init__(self, dim: int) -> None:
        self.model = MODEL
        self._rng = np.random.default_rng(3)
        self._dim = dim

    async def embed(self, texts: list[str]) -> list[Matrix]:
        return [self._rng.standard_normal(self._dim).astype(np.float32) for _ in texts]


def add_vectors(path: Path, dim: int) -> float:
    """Give every entry a random vector (what the background embedder writes); seconds."""
    started = time.perf_counter()
    store = KnowledgeStore(path)
    store.open()  # migrates, creates entry_vectors and marks every entry pending
    store.close()
    rng = np.random.default_rng(1)
    conn = sqlite3.connect(path)
    ids = [row[0] for row in conn.execute("SELECT entry_id FROM entry_vectors")]
    for start in range(0, len(ids), 10_000):
        chunk = ids[start : start + 10_000]
        vectors = rng.standard_normal((len(chunk), dim)).astype(np.float32)
        conn.executemany(
            "UPDATE entry_vectors SET model = ?, vector = ?, seq = seq + 1 WHERE entry_id = ?",
            [(MODEL, v.tobytes(), i) for v, i in zip(vectors, chunk, strict=True)],
        )
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=768)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "knowledge.db"
    rng = random.Random(7)
    words = vocabulary(20_000, rng)
    populate_v2(path, args.entries, words, rng)  # upgraded to the current schema when opened
    texts = queries(words, rng)
    print(f"vectors written in {add_vectors(path, args.dim):.1f}s ({args.dim} floats each)")

    store = KnowledgeStore(path)
    store.open()
    index = VectorIndex(MODEL)
    started = time.perf_counter()
    store.call(index.refresh)
    load_s = time.perf_counter() - started
    memory_mb = index.nbytes / 2**20
    hybrid = HybridSearch(store, ReadyEmbedder(args.dim), index)
    rng = np.random.default_rng(5)
    query_vector = rng.standard_normal(args.dim).astype(np.float32)

    keyword = measure(lambda q: store.search(SearchQuery(text=q, limit=10)), texts)
    nearest = measure(lambda _q: index.nearest(query_vector, 60), texts)
    refresh = measure(lambda _q: store.call(index.refresh), texts)
    fused = measure(lambda q: anyio.run(hybrid.search, SearchQuery(text=q, limit=10)), texts)
    index.fast_from = sys.maxsize
    exact = measure(lambda _q: index.nearest(query_vector, 60), texts)
    exact_fused = measure(lambda q: anyio.run(hybrid.search, SearchQuery(text=q, limit=10)), texts)
    random_recall = recall(index, rng.standard_normal((50, args.dim)).astype(np.float32))
    print(f"first load of {len(index)} vectors: {load_s * 1000:.0f} ms, {memory_mb:.0f} MiB")
    print(f"{len(texts)} queries (20 commonest words, mid, rare, pairs, prefixes), latency in ms")
    print(f"{'method':52} {'p50':>8} {'p95':>8} {'max':>8}")
    print(f"{'baseline: keyword only (store.search)':52} {percentiles(keyword)}")
    print(f"{'baseline: exact nearest 60 (float32 product)':52} {percentiles(exact)}")
    print(f"{'fast nearest 60 (sign codes + exact rescoring)':52} {percentiles(nearest)}")
    print(f"{'index refresh when nothing changed':52} {percentiles(refresh)}")
    print(f"{'baseline: hybrid with exact nearest':52} {percentiles(exact_fused)}")
    print(f"{'hybrid: keyword + fast nearest + RRF + entries':52} {percentiles(fused)}")
    store.close()
    print(f"recall@10 of the fast path vs exact ({index.candidates} candidates rescored):")
    print(f"  random vectors    {random_recall:.3f}")
    print(f"  clustered vectors {clustered_recall(args.entries, args.dim):.3f}")


def recall(index: VectorIndex, queries: Matrix, k: int = 10) -> float:
    """Share of the exact top ``k`` that the fast path returns, over ``queries``."""
    found = 0
    for query in queries:
        index.fast_from = sys.maxsize
        exact = {entry_id for entry_id, _ in index.nearest(query, k)}
        index.fast_from = 0
        found += len(exact & {entry_id for entry_id, _ in index.nearest(query, k)})
    return found / (k * len(queries))


def clustered_recall(entries: int, dim: int) -> float:
    """Recall on vectors around 2,000 topics sharing a common direction (as real embedding
    models' vectors do), the queries drawn from the same topics."""
    rng = np.random.default_rng(11)
    common = 2.0 * rng.standard_normal(dim).astype(np.float32)
    centres = rng.standard_normal((2000, dim)).astype(np.float32)

    def draw(n: int) -> Matrix:
        noise = rng.standard_normal((n, dim)).astype(np.float32)
        return (common + centres[rng.integers(0, 2000, n)] + noise).astype(np.float32)

    index = VectorIndex(MODEL)
    for entry_id, vector in enumerate(draw(entries), start=1):
        index.put(entry_id, vector)
    return recall(index, draw(50))


if __name__ == "__main__":
    main()
