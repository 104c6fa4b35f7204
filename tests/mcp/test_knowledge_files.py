"""Export to Markdown files and import them back: the rules of securellm.mcp.knowledge.files."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from securellm.mcp.knowledge.files import export_dir, import_dir
from securellm.mcp.knowledge.related import related_entries
from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    s = KnowledgeStore(tmp_path / "a.db")
    s.open()
    yield s
    s.close()


@pytest.fixture
def other(tmp_path: Path) -> Iterator[KnowledgeStore]:
    s = KnowledgeStore(tmp_path / "b.db")
    s.open()
    yield s
    s.close()


def save(store: KnowledgeStore, content: str, title: str | None = None, **kw: object) -> int:
    return store.save(NewEntry(type="note", content=content, title=title, **kw)).id  # type: ignore[arg-type]


def front(path: Path) -> dict[str, object]:
    text = path.read_text()
    data: dict[str, object] = yaml.safe_load(text.split("---\n")[1])
    return data


def only_file(folder: Path) -> Path:
    (path,) = sorted(folder.glob("*.md"))
    return path


def test_export_writes_one_file_per_entry_with_front_matter(
    store: KnowledgeStore, tmp_path: Path
) -> None:
    save(store, "body text [[Other]]", "Deploy notes", tags=("Nix", "deploy"), project="web")
    export_dir(store, tmp_path / "out")
    data = front(only_file(tmp_path / "out"))
    assert set(data) == {"id", "type", "title", "tags", "project", "session", "created",
                         "updated", "links"}  # fmt: skip
    assert (data["type"], data["tags"], data["project"]) == ("note", ["deploy", "nix"], "web")
    assert data["links"] == ["Other"]


def test_file_names_are_the_title_slug_and_a_short_id(
    store: KnowledgeStore, tmp_path: Path
) -> None:
    save(store, "x", "Déploy: notes / v2")
    export_dir(store, tmp_path / "out")
    assert re.fullmatch(r"deploy-notes-v2-[0-9a-f]{8}\.md", only_file(tmp_path / "out").name)


def test_untitled_entry_is_named_after_its_first_line(
    store: KnowledgeStore, tmp_path: Path
) -> None:
    save(store, "Retry budget\nmore lines")
    export_dir(store, tmp_path / "out")
    assert only_file(tmp_path / "out").name.startswith("retry-budget-")


def test_exporting_again_leaves_unchanged_files_alone(
    store: KnowledgeStore, tmp_path: Path
) -> None:
    save(store, "x", "Stable")
    export_dir(store, tmp_path / "out")
    before = only_file(tmp_path / "out").stat().st_mtime_ns
    report = export_dir(store, tmp_path / "out")
    assert (report.written, report.unchanged) == (0, 1)
    assert only_file(tmp_path / "out").stat().st_mtime_ns == before


def test_a_retitled_entry_replaces_its_old_file(store: KnowledgeStore, tmp_path: Path) -> None:
    entry_id = save(store, "x", "Old title")
    export_dir(store, tmp_path / "out")
    store.update(entry_id, {"title": "New title"})
    report = export_dir(store, tmp_path / "out")
    assert report.removed == 1
    assert only_file(tmp_path / "out").name.startswith("new-title-")


def test_round_trip_into_another_base_keeps_every_field(
    store: KnowledgeStore, other: KnowledgeStore, tmp_path: Path
) -> None:
    session = store.start_session("claude-code", project="web")
    save(store, "ends with a newline\n", "A", tags=("t",), session_id=session.id)
    save(store, "no newline", "B", metadata={"k": [1, 2]})
    export_dir(store, tmp_path / "out")
    report = import_dir(other, tmp_path / "out")
    assert (report.created, report.problems) == (2, [])
    mine = {e.title: e for e in store.recent(limit=10).entries}
    theirs = {e.title: e for e in other.recent(limit=10).entries}
    for title in ("A", "B"):
        strip = {"id"}
        assert mine[title].model_dump(exclude=strip) == theirs[title].model_dump(exclude=strip)


def test_importing_twice_changes_nothing(
    store: KnowledgeStore, other: KnowledgeStore, tmp_path: Path
) -> None:
    save(store, "x", "Once")
    export_dir(store, tmp_path / "out")
    import_dir(other, tmp_path / "out")
    again = import_dir(other, tmp_path / "out")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert other.count() == 1


def test_importing_its_own_export_changes_nothing(store: KnowledgeStore, tmp_path: Path) -> None:
    save(store, "x", "Mine")
    export_dir(store, tmp_path / "out")
    report = import_dir(store, tmp_path / "out")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 1)


def test_a_file_edited_by_hand_updates_its_entry(store: KnowledgeStore, tmp_path: Path) -> None:
    entry_id = save(store, "old body", "Edited", tags=("a",))
    export_dir(store, tmp_path / "out")
    path = only_file(tmp_path / "out")
    path.write_text(path.read_text().replace("old body", "new body").replace("[a]", "[a, b]"))
    report = import_dir(store, tmp_path / "out")
    assert report.updated == 1
    entry = store.get(entry_id)
    assert (entry.content, entry.tags) == ("new body", ["a", "b"])


def test_an_entry_changed_after_the_export_is_kept_as_a_conflict(
    store: KnowledgeStore, tmp_path: Path
) -> None:
    entry_id = save(store, "first", "Both")
    export_dir(store, tmp_path / "out")
    time.sleep(0.002)  # the entry's updated time must move past the file's
    store.update(entry_id, {"content": "changed in the base"})
    path = only_file(tmp_path / "out")
    path.write_text(path.read_text().replace("first", "changed in the file"))
    report = import_dir(store, tmp_path / "out")
    assert [p.reason for p in report.problems] == [
        "conflict: the entry changed here after the file; kept"
    ]
    assert store.get(entry_id).content == "changed in the base"


def test_a_new_file_without_an_id_creates_an_entry_and_gets_its_id(
    store: KnowledgeStore, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "idea.md").write_text("---\ntitle: Idea\ntags: [x]\n---\nwrite it down\n")
    first = import_dir(store, folder)
    second = import_dir(store, folder)
    assert (first.created, second.created, second.unchanged) == (1, 0, 1)
    assert re.fullmatch(r"[0-9a-f]{32}", str(front(folder / "idea.md")["id"]))
    assert store.count() == 1


def test_a_plain_markdown_file_is_a_note_titled_after_its_name(
    store: KnowledgeStore, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "garbage collection.md").write_text("nix-collect-garbage -d\n")
    import_dir(store, folder)
    (entry,) = store.recent(limit=5).entries
    assert (entry.title, entry.content, entry.type) == (
        "garbage collection", "nix-collect-garbage -d", "note"
    )  # fmt: skip
    assert import_dir(store, folder).unchanged == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("---\ntitle: [unclosed\n---\nbody\n", "not valid YAML"),
        ("---\ntitle: x\nbody without an end\n", "not closed"),
        ("---\n- a\n- b\n---\nbody\n", "must be a mapping"),
        ("---\ntype: poem\n---\nbody\n", "type must be one of"),
        ("---\nid: 42\n---\nbody\n", "32 hex digits"),
        ("---\ntitle: x\n---\n\n", "body"),
        ("---\ncolour: red\n---\nbody\n", "unknown front matter keys: colour"),
    ],
)
def test_a_malformed_file_is_reported_and_the_others_imported(
    store: KnowledgeStore, tmp_path: Path, text: str, reason: str
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "bad.md").write_text(text)
    (folder / "good.md").write_text("---\ntitle: Good\n---\nfine\n")
    report = import_dir(store, folder)
    (problem,) = report.problems
    assert problem.path.endswith("bad.md")
    assert reason in problem.reason
    assert [e.title for e in store.recent(limit=5).entries] == ["Good"]


def test_two_files_with_one_id_import_the_first_and_report_the_second(
    store: KnowledgeStore, other: KnowledgeStore, tmp_path: Path
) -> None:
    save(store, "x", "Twin")
    export_dir(store, tmp_path / "out")
    path = only_file(tmp_path / "out")
    (tmp_path / "out" / "zz-copy.md").write_text(path.read_text())
    report = import_dir(other, tmp_path / "out")
    assert report.created == 1
    assert "same id as" in report.problems[0].reason


def test_hidden_folders_such_as_git_are_not_imported(store: KnowledgeStore, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "x.md").write_text("not a note\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "y.md").write_text("a note\n")
    assert import_dir(store, folder).created == 1


def test_links_between_imported_files_resolve(
    store: KnowledgeStore, other: KnowledgeStore, tmp_path: Path
) -> None:
    save(store, "see [[Second]]", "First")
    save(store, "target", "Second")
    export_dir(store, tmp_path / "out")
    import_dir(other, tmp_path / "out")
    ids = {e.title: e.id for e in other.recent(limit=5).entries}
    result = related_entries(other, ids["Second"], 1)
    assert [r.entry.title for r in result.related] == ["First"]


def test_an_imported_file_keeps_its_name_on_export(store: KnowledgeStore, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    (folder / "projects").mkdir(parents=True)
    (folder / "projects" / "My Plan.md").write_text("the plan\n")
    import_dir(store, folder)
    entry_id = store.recent(limit=1).entries[0].id
    store.update(entry_id, {"content": "the better plan"})
    report = export_dir(store, folder)
    assert (report.written, report.removed) == (1, 0)
    assert [p.relative_to(folder).as_posix() for p in folder.rglob("*.md")] == [
        "projects/My Plan.md"
    ]
    assert "the better plan" in (folder / "projects" / "My Plan.md").read_text()


def test_a_hand_edit_after_a_propagated_change_is_no_conflict(
    store: KnowledgeStore, other: KnowledgeStore, tmp_path: Path
) -> None:
    entry_id = save(store, "v1", "Travels")
    export_dir(store, tmp_path / "out")
    import_dir(other, tmp_path / "out")
    store.update(entry_id, {"content": "v2"})
    export_dir(store, tmp_path / "out")
    import_dir(other, tmp_path / "out")
    path = only_file(tmp_path / "out")
    path.write_text(path.read_text().replace("v2", "v3 by hand"))
    report = import_dir(other, tmp_path / "out")
    assert (report.updated, report.problems) == (1, [])
    assert other.recent(limit=1).entries[0].content == "v3 by hand"
