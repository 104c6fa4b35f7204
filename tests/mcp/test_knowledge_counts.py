"""Per-type and per-tag counts of the knowledge base."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from securellm.mcp.knowledge.counts import Counts, counts
from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    opened = KnowledgeStore(tmp_path / "k.db", busy_timeout_ms=200)
    opened.open()
    yield opened
    opened.close()


def test_an_empty_base_counts_nothing(store: KnowledgeStore) -> None:
    assert counts(store).total == 0
    assert counts(store).by_type == []


def test_types_are_counted_most_first(store: KnowledgeStore) -> None:
    store.save(NewEntry(type="note", content="a"))
    store.save(NewEntry(type="decision", content="b"))
    store.save(NewEntry(type="decision", content="c"))
    assert counts(store).by_type == [("decision", 2), ("note", 1)]


def test_tags_are_counted_once_per_entry(store: KnowledgeStore) -> None:
    store.save(NewEntry(type="note", content="a", tags=("nix", "gpu")))
    store.save(NewEntry(type="note", content="b", tags=("nix",)))
    assert counts(store).by_tag == [("nix", 2), ("gpu", 1)]


def test_only_the_most_used_tags_are_listed(store: KnowledgeStore) -> None:
    store.save(NewEntry(type="note", content="a", tags=("x", "y", "z")))
    store.save(NewEntry(type="note", content="b", tags=("y",)))
    assert counts(store, top_tags=1).by_tag == [("y", 2)]


def test_a_deleted_entry_leaves_the_counts(store: KnowledgeStore) -> None:
    entry = store.save(NewEntry(type="todo", content="a", tags=("t",)))
    store.delete(entry.id)
    assert counts(store) == Counts(total=0, by_type=[], by_tag=[])
