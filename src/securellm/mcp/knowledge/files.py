"""Export the knowledge base to a folder of Markdown files, and import such a folder.

Import is idempotent by the ``id`` in each file's front matter:

- an id this base knows: when the file's fields differ from the entry's, the file wins,
  unless the entry changed here after the file was written (its ``updated`` is newer than
  the file's): then the file is reported as a conflict and the entry kept;
- an id this base does not know: the entry is created with that id and the file's times;
- no id (a file written by hand): a new entry, and its id is written back into the file, so
  importing the folder again does not create it twice;
- a file that cannot be read (bad front matter, unknown type, empty body, an id another
  file of the same import also has) is reported with its reason and skipped.

Entries are written in batches, one transaction each, so 100,000 files take seconds.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from securellm.core.sqlite import write_transaction
from securellm.mcp.knowledge.links import index_links
from securellm.mcp.knowledge.models import Entry
from securellm.mcp.knowledge.notefile import (
    NoteFile,
    NoteFileError,
    file_name,
    parse,
    render,
    with_id,
    write_atomic,
)
from securellm.mcp.knowledge.store import (
    _ENTRY_COLUMNS,
    KnowledgeStore,
    _entry_or_none,
    _normalise_tags,
    _write_tags,
    now_iso,
)

BATCH = 1000
IMPORT_CACHE_KIB = -65536  # 64 MiB (negative: KiB, SQLite's convention)
_HEAD_ID = re.compile(r"^id:[ \t]*['\"]?([0-9a-fA-F]{32})['\"]?[ \t]*\r?$", re.M)
_MAX_FILE_BYTES = 4_000_000


class FileProblem(BaseModel):
    path: str
    reason: str


class ExportReport(BaseModel):
    written: int = 0
    unchanged: int = 0
    removed: int = 0


class ImportReport(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[FileProblem] = []


@dataclass
class _Batch:
    notes: list[tuple[Path, NoteFile, str]] = field(default_factory=list)  # path, note, text
    new_ids: list[tuple[Path, str, str, str | None]] = field(default_factory=list)


# -- export ------------------------------------------------------------------------------
def exported_entries(store: KnowledgeStore, after: int = 0) -> Iterator[tuple[Entry, str]]:
    """Every entry with its stable id, in batches (corrupt rows are skipped)."""
    sql = (
        f"SELECT {_ENTRY_COLUMNS}, u.uid FROM entries e "  # noqa: S608
        "JOIN entry_uids u ON u.entry_id = e.id WHERE e.id > ? ORDER BY e.id LIMIT ?"
    )
    while True:
        rows = store.run(functools.partial(_rows, sql, (after, BATCH)))
        if not rows:
            return
        for row in rows:
            entry = _entry_or_none(row[:10])
            if entry is not None:
                yield entry, str(row[10])
        after = int(rows[-1][0])


def _rows(sql: str, params: tuple[object, ...], conn: sqlite3.Connection) -> list[Any]:
    return conn.execute(sql, params).fetchall()


def export_dir(store: KnowledgeStore, directory: Path) -> ExportReport:
    """Write one file per entry into ``directory``. A file already there for an entry (found
    by the id in its front matter, in any subfolder) is rewritten in place, keeping a name
    the user gave it; files already up to date are left alone, their times too."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = scan_ids(directory)
    report = ExportReport()
    for entry, uid in exported_entries(store):
        outcome = write_entry(directory, entry, uid, existing.get(uid))
        report.written += outcome in ("written", "renamed")
        report.unchanged += outcome == "unchanged"
        report.removed += outcome == "renamed"
    return report


def target_path(directory: Path, entry: Entry, uid: str, current: Path | None) -> Path:
    """Where ``entry``'s file goes: its current file, renamed with the title when the name
    is one an export gave (``slug-<id start>.md``), else kept as the user named it."""
    if current is None:
        return directory / file_name(entry, uid)
    if current.name.endswith(f"-{uid[:8]}.md"):
        return current.parent / file_name(entry, uid)
    return current


def write_entry(directory: Path, entry: Entry, uid: str, current: Path | None = None) -> str:
    """``written``, ``unchanged`` or ``renamed`` (the file's old name removed)."""
    path = target_path(directory, entry, uid, current)
    text = render(entry, uid)
    if _read(path) == text:
        return "unchanged"
    write_atomic(path, text)
    if current is not None and current != path:
        current.unlink(missing_ok=True)
        return "renamed"
    return "written"


def scan_ids(directory: Path) -> dict[str, Path]:
    """The id each Markdown file under ``directory`` carries (read from its first lines)."""
    found: dict[str, Path] = {}
    for path in markdown_files(directory):
        try:
            with path.open("rb") as handle:
                head = handle.read(4096).decode("utf-8", "replace")
        except OSError:
            continue
        end = head.find("\n---", 3)
        match = _HEAD_ID.search(head, 0, end) if head.startswith("---") and end > 0 else None
        if match is not None:
            found.setdefault(match.group(1).lower(), path)
    return found


def file_id(path: Path) -> str | None:
    """The id in a file's front matter, or None."""
    text = _read(path)
    if text is None:
        return None
    try:
        return parse(text, path.stem).uid
    except NoteFileError:
        return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# -- import ------------------------------------------------------------------------------
def markdown_files(directory: Path) -> list[Path]:
    """The ``.md`` files under ``directory``, hidden folders (``.git``) and files skipped."""
    found: list[Path] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / n for n in sorted(names) if n.endswith(".md") and n[0] != ".")
    return found


def import_dir(store: KnowledgeStore, directory: Path) -> ImportReport:
    if not directory.is_dir():
        raise NoteFileError(f"{directory} is not a folder")
    return import_files(store, markdown_files(directory))


def import_files(store: KnowledgeStore, paths: Iterable[Path]) -> ImportReport:
    """Import ``paths`` in batches; see the module's docstring for the rules. The page cache
    is raised for the import (the indexes of a large base outgrow SQLite's 2 MB default)."""
    previous = store.run(lambda c: int(c.execute("PRAGMA cache_size").fetchone()[0]))
    store.run(lambda c: c.execute(f"PRAGMA cache_size = {IMPORT_CACHE_KIB}"))
    try:
        return _import_files(store, paths)
    finally:
        store.run(lambda c: c.execute(f"PRAGMA cache_size = {previous}"))


def _import_files(store: KnowledgeStore, paths: Iterable[Path]) -> ImportReport:
    report = ImportReport()
    seen: dict[str, Path] = {}
    batch = _Batch()
    for path in paths:
        note = _load(path, report)
        if note is None:
            continue
        if note[0].uid is not None:
            if note[0].uid in seen:
                _problem(report, path, f"has the same id as {seen[note[0].uid]}")
                continue
            seen[note[0].uid] = path
        batch.notes.append((path, *note))
        if len(batch.notes) >= BATCH:
            _flush(store, batch, report)
            batch = _Batch()
    _flush(store, batch, report)
    return report


def _load(path: Path, report: ImportReport) -> tuple[NoteFile, str] | None:
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise NoteFileError(f"the file is larger than {_MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
        return parse(text, path.stem), text
    except UnicodeDecodeError:
        _problem(report, path, "the file is not UTF-8 text")
    except OSError as exc:
        _problem(report, path, f"cannot read the file: {exc.strerror}")
    except NoteFileError as exc:
        _problem(report, path, str(exc))
    return None


def _problem(report: ImportReport, path: Path, reason: str) -> None:
    report.problems.append(FileProblem(path=str(path), reason=reason))


def _flush(store: KnowledgeStore, batch: _Batch, report: ImportReport) -> None:
    if not batch.notes:
        return
    store.run(lambda conn: _apply(conn, batch, report))
    for path, uid, text, title in batch.new_ids:
        try:
            write_atomic(path, with_id(text, uid, title))
        except OSError as exc:
            _problem(report, path, f"imported, but its id could not be written back: {exc}")


def _apply(conn: sqlite3.Connection, batch: _Batch, report: ImportReport) -> None:
    uids = [note.uid for _, note, _ in batch.notes if note.uid]
    with write_transaction(conn):
        known = _known(conn, uids)
        for path, note, text in batch.notes:
            current = known.get(note.uid) if note.uid else None
            if current is None:
                uid = _insert(conn, note)
                report.created += 1
                if note.uid is None:
                    title = None if note.has_front_matter else note.title
                    batch.new_ids.append((path, uid, text, title))
            elif _same(current, note):
                report.unchanged += 1
            elif note.updated is not None and note.updated < current.updated_at:
                _problem(report, path, "conflict: the entry changed here after the file; kept")
            else:
                _update(conn, current.id, note)
                report.updated += 1


def _known(conn: sqlite3.Connection, uids: list[str]) -> dict[str, Entry]:
    known: dict[str, Entry] = {}
    if not uids:
        return known
    marks = ", ".join("?" for _ in uids)
    rows = conn.execute(
        f"SELECT {_ENTRY_COLUMNS}, u.uid FROM entry_uids u "  # noqa: S608
        f"JOIN entries e ON e.id = u.entry_id WHERE u.uid IN ({marks})",
        uids,
    ).fetchall()
    for row in rows:
        entry = _entry_or_none(row[:10])
        if entry is not None:
            known[str(row[10])] = entry
    return known


def _same(entry: Entry, note: NoteFile) -> bool:
    return (
        entry.type == note.type
        and entry.title == note.title
        and entry.content == note.content
        and entry.tags == _normalise_tags(note.tags)
        and entry.project == note.project
        and entry.metadata == note.metadata
    )


def _insert(conn: sqlite3.Connection, note: NoteFile) -> str:
    uid = note.uid or uuid.uuid4().hex
    created = note.created or now_iso()
    updated = note.updated or created
    if note.session is not None:
        conn.execute(
            "INSERT OR IGNORE INTO sessions (id, agent, started_at) VALUES (?, 'import', ?)",
            (note.session, created),
        )
    tags = _normalise_tags(note.tags)
    cur = conn.execute(
        "INSERT INTO entries (session_id, type, title, content, tags, metadata, project, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (note.session, note.type, note.title, note.content, _json(tags), _json(note.metadata),
         note.project, created, updated),
    )  # fmt: skip
    entry_id = int(cur.lastrowid or 0)
    conn.execute("UPDATE entry_uids SET uid = ? WHERE entry_id = ?", (uid, entry_id))
    _write_tags(conn, entry_id, tags)
    index_links(conn, entry_id, note.content)
    return uid


def _update(conn: sqlite3.Connection, entry_id: int, note: NoteFile) -> None:
    """The file's version; the entry takes the file's ``updated`` (never older than its
    own, or this would be a conflict), so every base a file reaches agrees on it."""
    tags = _normalise_tags(note.tags)
    conn.execute(
        "UPDATE entries SET type = ?, title = ?, content = ?, tags = ?, metadata = ?, "
        "project = ?, updated_at = ? WHERE id = ?",
        (note.type, note.title, note.content, _json(tags), _json(note.metadata), note.project,
         note.updated or now_iso(), entry_id),
    )  # fmt: skip
    conn.execute("DELETE FROM entry_tags WHERE entry_id = ?", (entry_id,))
    _write_tags(conn, entry_id, tags)
    index_links(conn, entry_id, note.content)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()
