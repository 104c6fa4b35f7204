"""``securellm knowledge export|import`` as a user runs them (the real command, a real base)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "securellm.toml"
    config.write_text(f'[mcp]\nknowledge_db_path = "{tmp_path / "knowledge.db"}"\n')
    return subprocess.run(
        [sys.executable, "-m", "securellm", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def seed(tmp_path: Path, content: str, title: str) -> int:
    store = KnowledgeStore(tmp_path / "knowledge.db")
    try:
        return store.save(NewEntry(type="note", content=content, title=title)).id
    finally:
        store.close()


def read(tmp_path: Path, entry_id: int) -> str:
    store = KnowledgeStore(tmp_path / "knowledge.db")
    try:
        return store.get(entry_id).content
    finally:
        store.close()


def test_export_edit_import_round_trip_updates_the_entry(tmp_path: Path) -> None:
    entry_id = seed(tmp_path, "the cache evicts old keys", "Cache")
    exported = cli(tmp_path, "knowledge", "export", str(tmp_path / "notes"))
    (path,) = (tmp_path / "notes").glob("cache-*.md")
    path.write_text(path.read_text().replace("old keys", "least recently used keys"))
    imported = cli(tmp_path, "knowledge", "import", str(tmp_path / "notes"))
    assert exported.returncode == 0, exported.stderr
    assert "1 written" in exported.stdout
    assert imported.returncode == 0, imported.stderr
    assert "1 updated" in imported.stdout
    assert read(tmp_path, entry_id) == "the cache evicts least recently used keys"


def test_import_lists_skipped_files_and_exits_1(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "bad.md").write_text("---\ntype: poem\n---\nbody\n")
    (folder / "good.md").write_text("a good note\n")
    result = cli(tmp_path, "knowledge", "import", str(folder))
    assert result.returncode == 1
    assert "bad.md: type must be one of" in result.stderr
    assert "1 created" in result.stdout
    assert "Traceback" not in result.stderr


def test_import_of_a_missing_folder_is_a_one_line_error(tmp_path: Path) -> None:
    result = cli(tmp_path, "knowledge", "import", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert "is not a folder" in result.stderr
    assert "Traceback" not in result.stderr
