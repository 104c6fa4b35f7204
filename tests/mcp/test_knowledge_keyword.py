"""Keyword search: stemming, phrases, prefixes, hostile syntax, matched-term ranking, migration."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from securellm.mcp.errors import InvalidInputError
from securellm.mcp.knowledge import keyword
from securellm.mcp.knowledge.schema import MIGRATIONS, SCHEMA_VERSION, _statements
from securellm.mcp.knowledge.search import SearchQuery
from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    opened = KnowledgeStore(tmp_path / "k.db", busy_timeout_ms=200)
    opened.open()
    yield opened
    opened.close()


def ids(store: KnowledgeStore, text: str, **options: object) -> list[int]:
    page = store.search(SearchQuery(text=text, **options))  # type: ignore[arg-type]
    return [hit.entry.id for hit in page.hits]


def test_an_inflected_word_finds_its_other_forms(store: KnowledgeStore) -> None:
    note = store.save(NewEntry(type="note", content="Redis evicts keys once maxmemory is hit"))
    assert ids(store, "evicting") == [note.id]


def test_retries_finds_retried(store: KnowledgeStore) -> None:
    note = store.save(NewEntry(type="note", content="the upload was retried twice"))
    assert ids(store, "retries") == [note.id]


def test_a_quoted_phrase_needs_its_words_in_order(store: KnowledgeStore) -> None:
    store.save(NewEntry(type="note", content="collection of garbage bags"))
    phrase = store.save(NewEntry(type="note", content="tuning garbage collection pauses"))
    assert ids(store, '"garbage collection"') == [phrase.id]


def test_a_phrase_is_stemmed_too(store: KnowledgeStore) -> None:
    note = store.save(NewEntry(type="note", content="the garbage collected overnight"))
    assert ids(store, '"garbage collecting"') == [note.id]


def test_a_prefix_matches_every_word_starting_with_it(store: KnowledgeStore) -> None:
    first = store.save(NewEntry(type="note", content="cache eviction policy"))
    second = store.save(NewEntry(type="note", content="it evicted the session"))
    assert sorted(ids(store, "evict*")) == [first.id, second.id]


@pytest.mark.parametrize(
    "text",
    ["NEAR(", "NEAR(a b", "title:", '"unterminated phrase', "a AND", "-x OR", 'x "a'],
)
def test_fts_syntax_in_the_query_is_plain_text(store: KnowledgeStore, text: str) -> None:
    store.save(NewEntry(type="note", content="a near title and or x unterminated phrase"))
    assert len(ids(store, text)) == 1


@pytest.mark.parametrize("text", ['"', "*", '""*', "(,) :"])
def test_syntax_without_words_is_invalid_input_not_an_fts_error(
    store: KnowledgeStore, text: str
) -> None:
    with pytest.raises(InvalidInputError, match="no words"):
        store.search(SearchQuery(text=text))


def test_any_mode_ranks_entries_matching_more_words_first(store: KnowledgeStore) -> None:
    # A rare word alone would win on bm25; the entry with all three words must come first.
    rare = store.save(NewEntry(type="note", content="zeppelin", title="zeppelin"))
    for n in range(5):
        store.save(NewEntry(type="note", content=f"common filler {n}"))
    full = store.save(NewEntry(type="note", content="common zeppelin hangar in a long text " * 3))
    two = store.save(NewEntry(type="note", content="zeppelin hangar"))
    assert ids(store, "zeppelin hangar common", mode="any")[:3] == [full.id, two.id, rare.id]


def test_a_very_common_word_is_ranked_over_the_newest_window(
    store: KnowledgeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyword, "RANK_WINDOW", 3)
    saved = [store.save(NewEntry(type="note", content=f"common {n}")) for n in range(6)]
    newest = {entry.id for entry in saved[-3:]}
    assert set(ids(store, "common")) == newest


def test_filters_apply_before_the_page_is_cut(store: KnowledgeStore) -> None:
    for _ in range(15):
        store.save(NewEntry(type="note", content="deploy notes"))
    wanted = store.save(NewEntry(type="decision", content="deploy decision"))
    assert ids(store, "deploy", types=("decision",), limit=1) == [wanted.id]


def test_snippet_marks_the_stemmed_match(store: KnowledgeStore) -> None:
    store.save(NewEntry(type="note", content="the job was retried after the outage"))
    page = store.search(SearchQuery(text="retries"))
    assert "[retried]" in page.hits[0].snippet


def test_a_database_made_by_the_previous_schema_is_reindexed_and_keeps_every_entry(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as conn:
        for script in MIGRATIONS[:2]:
            for statement in _statements(script):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
        for n in range(50):
            conn.execute(
                "INSERT INTO entries (type, title, content, created_at, updated_at) "
                "VALUES ('note', ?, ?, '2026-01-01', '2026-01-01')",
                (f"entry {n}", f"the cache evicts key {n}"),
            )
    upgraded = KnowledgeStore(path)
    upgraded.open()
    try:
        assert upgraded.count() == 50
        assert len(ids(upgraded, "evicting", limit=100)) == 50
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        upgraded.close()


def test_entries_saved_after_the_migration_are_indexed(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as conn:
        for script in MIGRATIONS[:2]:
            for statement in _statements(script):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
    upgraded = KnowledgeStore(path)
    upgraded.open()
    try:
        note = upgraded.save(NewEntry(type="note", content="certificates renewed"))
        upgraded.update(note.id, {"content": "certificate renewal moved to DNS-01"})
        assert ids(upgraded, "renewing") == [note.id]
    finally:
        upgraded.close()


def test_the_window_of_a_filtered_search_holds_only_entries_that_pass_the_filter(
    store: KnowledgeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyword, "RANK_WINDOW", 3)
    older = [store.save(NewEntry(type="note", content="common", project="a")) for _ in range(4)]
    for _ in range(6):
        store.save(NewEntry(type="note", content="common", project="b"))
    found = ids(store, "common", project="a")
    assert set(found) == {entry.id for entry in older[-3:]}
