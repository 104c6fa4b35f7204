"""The SQLite knowledge store: schema, search, filters, pagination, failures."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from securellm.mcp.errors import InvalidInputError, KnowledgeError, NotFoundError
from securellm.mcp.knowledge.schema import SCHEMA_VERSION
from securellm.mcp.knowledge.search import SearchQuery
from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry


@pytest.fixture
def store(tmp_path: Path) -> KnowledgeStore:
    opened = KnowledgeStore(tmp_path / "k.db", busy_timeout_ms=200)
    opened.open()
    yield opened
    opened.close()


def test_open_uses_wal_and_latest_schema(store: KnowledgeStore) -> None:
    assert store.journal_mode == "wal"
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_migration_upgrades_a_v1_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        from securellm.mcp.knowledge.schema import MIGRATIONS, _statements

        for statement in _statements(MIGRATIONS[0]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO entries (type, content, created_at, updated_at) "
            "VALUES ('note', 'kept across the upgrade', '2026-01-01', '2026-01-01')"
        )
    upgraded = KnowledgeStore(path)
    upgraded.open()
    assert upgraded.get(1).content == "kept across the upgrade"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    upgraded.close()


def test_newer_schema_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(KnowledgeError, match="newer than this server"):
        KnowledgeStore(path).open()


def test_save_then_get_round_trips_every_field(store: KnowledgeStore) -> None:
    session = store.start_session("claude-code", "/work", "securellm")
    saved = store.save(
        NewEntry(
            type="decision",
            content="use WAL",
            title="DB",
            tags=("SQLite", "db "),
            metadata={"pr": 7},
            session_id=session.id,
        )
    )
    got = store.get(saved.id)
    assert (got.type, got.title, got.content) == ("decision", "DB", "use WAL")
    assert got.tags == ["db", "sqlite"]
    assert got.metadata == {"pr": 7}
    assert got.project == "securellm"


def test_search_ranks_title_matches_above_body_matches(store: KnowledgeStore) -> None:
    store.save(NewEntry(type="note", content="we talked about flakes briefly", title="misc"))
    best = store.save(NewEntry(type="note", content="details", title="flakes"))
    page = store.search(SearchQuery(text="flakes"))
    assert next(hit.entry.id for hit in page.hits) == best.id


def test_search_treats_fts_operators_as_plain_words(store: KnowledgeStore) -> None:
    store.save(NewEntry(type="note", content="NEAR the column: title"))
    page = store.search(SearchQuery(text='"NEAR( title: * -'))
    assert len(page.hits) == 1


def test_search_with_no_words_is_invalid(store: KnowledgeStore) -> None:
    with pytest.raises(InvalidInputError, match="no words"):
        store.search(SearchQuery(text="!!! ()"))


def test_prefix_search_matches_word_starts(store: KnowledgeStore) -> None:
    store.save(NewEntry(type="note", content="kubernetes cluster"))
    assert len(store.search(SearchQuery(text="kube*")).hits) == 1


def test_any_mode_matches_either_word(store: KnowledgeStore) -> None:
    store.save(NewEntry(type="note", content="alpha"))
    store.save(NewEntry(type="note", content="beta"))
    assert len(store.search(SearchQuery(text="alpha beta", mode="any")).hits) == 2


def test_all_mode_falls_back_to_any_and_says_so(store: KnowledgeStore) -> None:
    store.save(NewEntry(type="note", content="alpha"))
    store.save(NewEntry(type="note", content="beta"))
    page = store.search(SearchQuery(text="alpha beta"))
    assert (len(page.hits), page.terms) == (2, "any")


def test_all_mode_keeps_to_entries_with_every_word_when_there_are_some(
    store: KnowledgeStore,
) -> None:
    store.save(NewEntry(type="note", content="alpha"))
    both = store.save(NewEntry(type="note", content="alpha beta"))
    page = store.search(SearchQuery(text="alpha beta"))
    assert ([hit.entry.id for hit in page.hits], page.terms) == ([both.id], "all")


def test_filters_by_type_tag_session_and_project(store: KnowledgeStore) -> None:
    session = store.start_session("a", project="p1")
    store.save(NewEntry(type="error", content="boom here", tags=("ci",), session_id=session.id))
    store.save(NewEntry(type="note", content="boom there", tags=("ci",)))
    store.save(NewEntry(type="error", content="boom elsewhere", project="p2"))
    assert len(store.search(SearchQuery(text="boom", types=("error",))).hits) == 2
    assert len(store.search(SearchQuery(text="boom", tags=("CI",))).hits) == 2
    assert len(store.search(SearchQuery(text="boom", session_id=session.id)).hits) == 1
    assert len(store.search(SearchQuery(text="boom", project="p2")).hits) == 1


def test_time_filters_bound_the_creation_time(store: KnowledgeStore) -> None:
    entry = store.save(NewEntry(type="note", content="timed"))
    assert len(store.search(SearchQuery(text="timed", since="2000-01-01T00:00:00Z")).hits) == 1
    assert len(store.search(SearchQuery(text="timed", until="2000-01-01")).hits) == 0
    assert len(store.search(SearchQuery(text="timed", since=entry.created_at)).hits) == 1


def test_bad_time_is_invalid_input(store: KnowledgeStore) -> None:
    with pytest.raises(InvalidInputError, match="ISO 8601"):
        store.search(SearchQuery(text="x", since="yesterday"))


def test_pagination_walks_every_result_once(store: KnowledgeStore) -> None:
    for n in range(7):
        store.save(NewEntry(type="note", content=f"paged item {n}"))
    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        page = store.search(SearchQuery(text="paged", limit=3, offset=offset))
        seen += [hit.entry.id for hit in page.hits]
        offset = page.next_offset
    assert sorted(seen) == list(range(1, 8))


def test_recent_lists_newest_first(store: KnowledgeStore) -> None:
    ids = [store.save(NewEntry(type="todo", content=f"t{n}")).id for n in range(3)]
    assert [e.id for e in store.recent(limit=10).entries] == ids[::-1]


def test_update_reindexes_the_content(store: KnowledgeStore) -> None:
    entry = store.save(NewEntry(type="note", content="oldword"))
    store.update(entry.id, {"content": "newword", "tags": ["x"]})
    assert store.search(SearchQuery(text="oldword")).hits == []
    assert store.search(SearchQuery(text="newword", tags=("x",))).hits[0].entry.id == entry.id


def test_delete_removes_entry_and_index(store: KnowledgeStore) -> None:
    entry = store.save(NewEntry(type="note", content="gone soon"))
    assert store.delete(entry.id) is True
    assert store.delete(entry.id) is False
    assert store.search(SearchQuery(text="gone")).hits == []
    with pytest.raises(NotFoundError):
        store.get(entry.id)


def test_save_to_unknown_session_is_refused_and_stores_nothing(store: KnowledgeStore) -> None:
    with pytest.raises(NotFoundError):
        store.save(NewEntry(type="note", content="x", session_id="0" * 32))
    assert store.count() == 0


def test_session_end_records_summary_and_count(store: KnowledgeStore) -> None:
    session = store.start_session("agent")
    store.save(NewEntry(type="note", content="one", session_id=session.id))
    ended = store.end_session(session.id, "did one thing")
    assert ended.ended_at is not None
    assert (ended.summary, ended.entry_count) == ("did one thing", 1)


def test_ending_a_session_twice_is_an_error(store: KnowledgeStore) -> None:
    session = store.start_session("agent")
    store.end_session(session.id)
    with pytest.raises(KnowledgeError, match="already ended"):
        store.end_session(session.id)


def test_corrupt_row_is_an_error_on_get_and_skipped_in_search(store: KnowledgeStore) -> None:
    good = store.save(NewEntry(type="note", content="shared word"))
    bad = store.save(NewEntry(type="note", content="shared word too"))
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE entries SET tags = 'not json' WHERE id = ?", (bad.id,))
    with pytest.raises(KnowledgeError, match="corrupt"):
        store.get(bad.id)
    page = store.search(SearchQuery(text="shared"))
    assert [hit.entry.id for hit in page.hits] == [good.id]
    assert page.corrupt_skipped == 1


def test_locked_database_is_a_knowledge_error(store: KnowledgeStore) -> None:
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(KnowledgeError, match="locked"):
            store.save(NewEntry(type="note", content="waits"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.save(NewEntry(type="note", content="after")).id >= 1


def test_unwritable_location_is_a_knowledge_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(KnowledgeError, match="cannot open"):
        KnowledgeStore(blocker / "k.db").open()


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry
    store = KnowledgeStore(Path(sys.argv[1]), busy_timeout_ms=10000)
    store.open()
    for n in range(int(sys.argv[3])):
        store.save(NewEntry(type="note", content=f"writer {sys.argv[2]} item {n}", tags=("w",)))
    """
)


def test_concurrent_writer_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    KnowledgeStore(path).open()
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(w), "60"]) for w in range(4)
    ]
    assert [p.wait(timeout=120) for p in writers] == [0, 0, 0, 0]
    reader = KnowledgeStore(path)
    assert reader.count() == 240
    assert len(reader.search(SearchQuery(text="writer", tags=("w",), limit=100)).hits) == 100
    reader.close()
