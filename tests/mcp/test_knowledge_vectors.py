"""The embedding table beside SQLite: pending markers, the in-memory index, rank fusion."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from securellm.mcp.knowledge.hybrid import fuse
from securellm.mcp.knowledge.models import Entry, SearchHit
from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry
from securellm.mcp.knowledge.vectors import (
    VectorIndex,
    pending,
    pending_count,
    store_vectors,
)

MODEL = "m"


@pytest.fixture
def store(tmp_path: Path) -> KnowledgeStore:
    store = KnowledgeStore(tmp_path / "k.db")
    store.open()
    return store


def save(store: KnowledgeStore, content: str, title: str | None = None) -> int:
    return store.save(NewEntry(type="note", content=content, title=title)).id


def embed_all(store: KnowledgeStore, vectors: dict[int, list[float]]) -> None:
    items = store.call(lambda c: pending(c, MODEL, 10_000, 2000))
    pairs = [(item, np.asarray(vectors[item.entry_id], np.float32)) for item in items]
    store.call(lambda c: store_vectors(c, MODEL, pairs))


def test_a_saved_entry_is_pending_with_its_title_and_content(store: KnowledgeStore) -> None:
    entry_id = save(store, "body", title="head")
    [item] = store.call(lambda c: pending(c, MODEL, 10, 2000))
    assert (item.entry_id, item.text) == (entry_id, "head\nbody")


def test_an_embedded_entry_is_no_longer_pending(store: KnowledgeStore) -> None:
    entry_id = save(store, "body")
    embed_all(store, {entry_id: [1.0, 0.0]})
    assert store.call(lambda c: pending_count(c, MODEL)) == 0


def test_changing_the_content_makes_an_entry_pending_again(store: KnowledgeStore) -> None:
    entry_id = save(store, "body")
    embed_all(store, {entry_id: [1.0, 0.0]})
    store.update(entry_id, {"content": "new body"})
    assert store.call(lambda c: pending_count(c, MODEL)) == 1


def test_changing_only_the_tags_keeps_the_embedding(store: KnowledgeStore) -> None:
    entry_id = save(store, "body")
    embed_all(store, {entry_id: [1.0, 0.0]})
    store.update(entry_id, {"tags": ["x"]})
    assert store.call(lambda c: pending_count(c, MODEL)) == 0


def test_another_model_counts_every_entry_as_pending(store: KnowledgeStore) -> None:
    entry_id = save(store, "body")
    embed_all(store, {entry_id: [1.0, 0.0]})
    assert store.call(lambda c: pending_count(c, "other-model")) == 1


def test_a_vector_for_text_edited_meanwhile_is_not_stored(store: KnowledgeStore) -> None:
    entry_id = save(store, "old text")
    [item] = store.call(lambda c: pending(c, MODEL, 10, 2000))
    store.update(entry_id, {"content": "new text"})
    store.call(lambda c: store_vectors(c, MODEL, [(item, np.ones(2, np.float32))]))
    assert store.call(lambda c: pending_count(c, MODEL)) == 1


def test_entries_older_than_the_table_become_pending(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    store = KnowledgeStore(path)
    store.open()
    save(store, "old entry")
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE entry_vectors")
    conn.commit()
    conn.close()
    reopened = KnowledgeStore(path)
    reopened.open()
    assert reopened.call(lambda c: pending_count(c, MODEL)) == 1


def test_nearest_ranks_by_cosine_similarity(store: KnowledgeStore) -> None:
    a, b, c = save(store, "a"), save(store, "b"), save(store, "c")
    embed_all(store, {a: [1.0, 0.0], b: [0.0, 1.0], c: [1.0, 1.0]})
    index = VectorIndex(MODEL)
    store.call(index.refresh)
    ranked = index.nearest(np.asarray([1.0, 0.1], np.float32), 3)
    assert [entry_id for entry_id, _ in ranked] == [a, c, b]


def test_refresh_picks_up_vectors_written_by_another_process(
    store: KnowledgeStore, tmp_path: Path
) -> None:
    index = VectorIndex(MODEL)
    store.call(index.refresh)
    other = KnowledgeStore(tmp_path / "k.db")
    entry_id = save(other, "from elsewhere")
    embed_all(other, {entry_id: [0.0, 1.0]})
    store.call(index.refresh)
    assert [i for i, _ in index.nearest(np.asarray([0.0, 1.0], np.float32), 5)] == [entry_id]


def test_an_edited_entry_leaves_the_index_until_it_is_embedded_again(
    store: KnowledgeStore,
) -> None:
    entry_id = save(store, "body")
    embed_all(store, {entry_id: [1.0, 0.0]})
    index = VectorIndex(MODEL)
    store.call(index.refresh)
    store.update(entry_id, {"content": "changed"})
    store.call(index.refresh)
    assert index.nearest(np.asarray([1.0, 0.0], np.float32), 5) == []


def test_the_index_grows_past_its_first_allocation(store: KnowledgeStore) -> None:
    ids = [save(store, f"n{n}") for n in range(1500)]
    embed_all(store, {entry_id: [float(entry_id), 1.0] for entry_id in ids})
    index = VectorIndex(MODEL)
    store.call(index.refresh)
    assert len(index) == 1500


def _hit(entry_id: int) -> SearchHit:
    stamp = "2026-01-01T00:00:00+00:00"
    entry = Entry(id=entry_id, type="note", content="x", created_at=stamp, updated_at=stamp)
    return SearchHit(entry=entry, score=0.0, snippet="")


def test_fusion_puts_an_entry_both_rankings_hold_first() -> None:
    keyword = [_hit(1), _hit(2)]
    semantic = [_hit(3), _hit(2)]
    assert fuse([keyword, semantic])[0].entry.id == 2


def test_fusion_scores_are_lower_for_better_hits() -> None:
    fused = fuse([[_hit(1), _hit(2)], [_hit(1)]])
    assert fused[0].score < fused[1].score


def test_refresh_in_chunks_reads_every_vector(store: KnowledgeStore) -> None:
    ids = [save(store, f"n{n}") for n in range(25)]
    embed_all(store, {entry_id: [float(entry_id), 1.0] for entry_id in ids})
    index = VectorIndex(MODEL)
    while store.call(lambda c: index.refresh(c, max_rows=10)) == 10:
        pass
    assert len(index) == 25
