"""Two-way folder sync (``[mcp] knowledge_sync_dir``): the real watcher, real files, real bases;
and two real ``securellm mcp`` processes (stdio, the official client) sharing one folder."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from mcp.client.stdio import StdioServerParameters

from mcp import Client
from securellm.mcp.knowledge.files import file_id
from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry
from securellm.mcp.knowledge.sync import FolderSync

WAIT_S = 30.0  # how long a change may take to show; a deadline, not a measured figure


def eventually(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def synced(tmp_path: Path) -> Iterator[tuple[KnowledgeStore, Path]]:
    store = KnowledgeStore(tmp_path / "kb.db")
    store.open()
    folder = tmp_path / "notes"
    sync = FolderSync(store, folder)
    sync.start()
    yield store, folder
    sync.stop()
    store.close()


def titles(store: KnowledgeStore) -> set[str | None]:
    return {e.title for e in store.recent(limit=100).entries}


def note(folder: Path, name: str, title: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"---\ntitle: {title}\n---\n{body}\n")
    return path


def test_an_entry_saved_appears_as_a_file(synced: tuple[KnowledgeStore, Path]) -> None:
    store, folder = synced
    store.save(NewEntry(type="note", content="body", title="Saved here"))
    assert [p.name[:-12] for p in folder.glob("*.md")] == ["saved-here"]


def test_a_file_written_on_disk_becomes_an_entry(synced: tuple[KnowledgeStore, Path]) -> None:
    store, folder = synced
    note(folder, "from-disk.md", "From disk", "typed in an editor")
    assert eventually(lambda: "From disk" in titles(store))


def test_a_file_edited_on_disk_updates_its_entry(synced: tuple[KnowledgeStore, Path]) -> None:
    store, folder = synced
    entry = store.save(NewEntry(type="note", content="old words", title="Edit me"))
    (path,) = folder.glob("edit-me-*.md")
    path.write_text(path.read_text().replace("old words", "new words"))
    assert eventually(lambda: store.get(entry.id).content == "new words")


def test_a_file_deleted_on_disk_deletes_its_entry(synced: tuple[KnowledgeStore, Path]) -> None:
    store, folder = synced
    store.save(NewEntry(type="note", content="x", title="Doomed"))
    store.save(NewEntry(type="note", content="y", title="Kept"))
    (path,) = folder.glob("doomed-*.md")
    path.unlink()
    assert eventually(lambda: titles(store) == {"Kept"})


def test_an_entry_deleted_removes_its_file(synced: tuple[KnowledgeStore, Path]) -> None:
    store, folder = synced
    entry = store.save(NewEntry(type="note", content="x", title="Removed"))
    store.delete(entry.id)
    assert list(folder.glob("*.md")) == []


def test_a_moved_file_keeps_its_entry(synced: tuple[KnowledgeStore, Path]) -> None:
    store, folder = synced
    entry = store.save(NewEntry(type="note", content="x", title="Mover"))
    (path,) = folder.glob("mover-*.md")
    (folder / "sub").mkdir()
    path.rename(folder / "sub" / path.name)
    time.sleep(1.5)  # give the watcher time to see the move (a wrong delete would show)
    assert store.get(entry.id).title == "Mover"


def test_a_retitled_entry_renames_its_file(synced: tuple[KnowledgeStore, Path]) -> None:
    store, folder = synced
    entry = store.save(NewEntry(type="note", content="x", title="Before"))
    store.update(entry.id, {"title": "After"})
    assert [p.name[:-12] for p in folder.glob("*.md")] == ["after"]
    time.sleep(1.5)  # the old name's deletion must not delete the entry
    assert store.get(entry.id).title == "After"


def test_a_malformed_file_is_skipped_and_its_entry_kept(
    synced: tuple[KnowledgeStore, Path],
) -> None:
    store, folder = synced
    entry = store.save(NewEntry(type="note", content="fine", title="Fragile"))
    (path,) = folder.glob("fragile-*.md")
    path.write_text("---\ntype: [broken\n---\nbody\n")
    note(folder, "after.md", "After the break", "still synced")
    assert eventually(lambda: "After the break" in titles(store))
    assert store.get(entry.id).content == "fine"


def test_existing_files_and_entries_meet_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    note(folder, "old-file.md", "Old file", "was here first")
    store = KnowledgeStore(tmp_path / "kb.db")
    store.save(NewEntry(type="note", content="x", title="Old entry"))
    sync = FolderSync(store, folder)
    sync.start()
    sync.stop()
    names = sorted(p.name for p in folder.glob("*.md"))
    assert titles(store) == {"Old file", "Old entry"}
    assert len(names) == 2
    assert names[0].startswith("old-entry-")
    assert names[1] == "old-file.md"  # the user's name is kept, its id written in
    assert file_id(folder / "old-file.md") is not None
    store.close()


# -- two real servers, one folder --------------------------------------------------------
def server(tmp_path: Path, name: str, folder: Path) -> StdioServerParameters:
    home = tmp_path / name
    home.mkdir()
    config = home / "securellm.toml"
    config.write_text(
        f'[mcp]\nknowledge_db_path = "{home / "kb.db"}"\nknowledge_sync_dir = "{folder}"\n'
    )
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "securellm.mcp", "--config", str(config)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)},
    )


async def save_many(params: StdioServerParameters, prefix: str, count: int) -> None:
    async with Client(params) as client:
        for i in range(count):
            result = await client.call_tool(
                "knowledge_save", {"title": f"{prefix} {i}", "content": f"from {prefix}, #{i}"}
            )
            assert not result.is_error
        # stay connected until the other server's files have arrived here too
        for _ in range(int(WAIT_S * 10)):
            found = await client.call_tool("knowledge_recent", {"limit": 100})
            if len(found.structured_content["entries"]) == 2 * count:
                return
            await anyio.sleep(0.1)


async def test_two_servers_syncing_one_folder_lose_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "shared-notes"
    a, b = server(tmp_path, "a", folder), server(tmp_path, "b", folder)
    async with anyio.create_task_group() as tg:
        tg.start_soon(save_many, a, "alpha", 20)
        tg.start_soon(save_many, b, "beta", 20)
    expected = {f"{p} {i}" for p in ("alpha", "beta") for i in range(20)}
    for name in ("a", "b"):
        store = KnowledgeStore(tmp_path / name / "kb.db")
        assert titles(store) == expected, name
        store.close()
    assert len(list(folder.glob("*.md"))) == 40
    assert {file_id(p) for p in folder.glob("*.md")} != {None}


def test_removing_the_whole_folder_deletes_no_entry(synced: tuple[KnowledgeStore, Path]) -> None:
    store, folder = synced
    store.save(NewEntry(type="note", content="x", title="Survivor"))
    for path in folder.glob("*.md"):
        path.unlink()
    folder.rmdir()
    time.sleep(1.5)  # give the watcher time to see the deletions
    assert titles(store) == {"Survivor"}


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[KnowledgeStore, KnowledgeStore]]:
    folder = tmp_path / "shared"
    stores = [KnowledgeStore(tmp_path / f"{name}.db") for name in ("a", "b")]
    syncs = [FolderSync(store, folder) for store in stores]
    for sync in syncs:
        sync.start()
    yield stores[0], stores[1]
    for sync in syncs:
        sync.stop()
    for store in stores:
        store.close()


def entry_by_title(store: KnowledgeStore, title: str) -> object:
    return next((e for e in store.recent(limit=100).entries if e.title == title), None)


def test_an_update_in_one_base_reaches_the_other(
    pair: tuple[KnowledgeStore, KnowledgeStore],
) -> None:
    a, b = pair
    entry = a.save(NewEntry(type="note", content="first", title="Shared"))
    assert eventually(lambda: entry_by_title(b, "Shared") is not None)
    a.update(entry.id, {"content": "second"})
    assert eventually(lambda: getattr(entry_by_title(b, "Shared"), "content", "") == "second")


def test_a_delete_in_one_base_reaches_the_other(
    pair: tuple[KnowledgeStore, KnowledgeStore],
) -> None:
    a, b = pair
    entry = a.save(NewEntry(type="note", content="x", title="Short-lived"))
    assert eventually(lambda: entry_by_title(b, "Short-lived") is not None)
    a.delete(entry.id)
    assert eventually(lambda: entry_by_title(b, "Short-lived") is None)


def test_a_move_reported_only_as_a_deletion_keeps_its_entry(tmp_path: Path) -> None:
    store = KnowledgeStore(tmp_path / "kb.db")
    store.open()
    folder = tmp_path / "notes"
    sync = FolderSync(store, folder)
    sync.start()
    entry = store.save(NewEntry(type="note", content="x", title="Mover"))
    sync.stop()  # the watcher's rounds are fed by hand below, split as it may split them
    (path,) = folder.glob("mover-*.md")
    (folder / "sub").mkdir()
    path.rename(folder / "sub" / path.name)
    sync.apply([(3, str(path))])  # watchfiles' Change.deleted; the new name comes later
    sync.apply([])  # the round in which a real deletion is carried out
    assert store.get(entry.id).title == "Mover"
    store.close()
