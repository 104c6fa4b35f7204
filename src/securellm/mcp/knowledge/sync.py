"""Two-way sync of the knowledge base with a folder of Markdown files (``[mcp]
knowledge_sync_dir``), so notes can live in a git repository.

- At start: the folder is imported (the rules of :mod:`files`), then every entry exported.
- An entry saved, updated or deleted through the server: its file is written (atomically),
  renamed with its title, or removed.
- A file added or changed on disk (watched with ``watchfiles``: inotify, or polling when
  ``knowledge_sync_polling`` is on, for network file systems): imported; a file that cannot
  be read is logged and skipped, its entry kept.
- A file deleted on disk while the server runs: its entry is deleted, unless another file
  carries the same id (a move or rename). While no server runs a deletion cannot be told
  from a file not yet written, so the next start writes the file back.

Several servers (each with its own base, or sharing one) may sync one folder: files are
named by the entry's stable id, each write replaces a whole file, and a server ignores the
echo of its own writes (the import finds them unchanged).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from watchfiles._rust_notify import RustNotify

from securellm.mcp.errors import McpToolError
from securellm.mcp.knowledge.files import (
    export_dir,
    file_id,
    import_dir,
    import_files,
    scan_ids,
    target_path,
    write_entry,
)
from securellm.mcp.knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)
_DELETED = 3  # watchfiles.Change.deleted


class FolderSync:
    """Start with :meth:`start` (blocking: the first import and export), stop with
    :meth:`stop`."""

    def __init__(self, store: KnowledgeStore, directory: Path, *, polling: bool = False) -> None:
        self.store = store
        self.directory = directory
        self._polling = polling
        self._lock = threading.RLock()
        self._uid_path: dict[str, Path] = {}
        self._path_uid: dict[Path, str] = {}
        self._entry_uid: dict[int, str] = {}
        self._uid_entry: dict[str, int] = {}
        self._pending: list[Path] = []
        self._stop = threading.Event()
        self._notify: RustNotify | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # Watching starts here, before the first pass, so no change falls between the two.
        self._notify = RustNotify([str(self.directory)], False, self._polling, 300, True, True)
        self.store.change_listeners.append(self._on_change)
        self.reconcile()
        self._thread = threading.Thread(target=self._loop, name="knowledge-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._on_change in self.store.change_listeners:
            self.store.change_listeners.remove(self._on_change)
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._notify is not None:
            self._notify.close()

    def reconcile(self) -> None:
        """Import the whole folder, then export every entry, then learn which file is whose."""
        report = import_dir(self.store, self.directory)
        _log_problems(report.problems)
        export_dir(self.store, self.directory)
        with self._lock:
            for uid, path in scan_ids(self.directory).items():
                self._remember(path, uid)
            self._learn_entries(list(self._uid_path))

    # -- entries changed through the server -----------------------------------------
    def _on_change(self, kind: str, entry_id: int) -> None:
        try:
            with self._lock:
                if kind == "deleted":
                    self._remove_file(entry_id)
                else:
                    self._write_file(entry_id)
        except (McpToolError, OSError) as exc:
            log.warning("knowledge sync could not write a file", extra={"error": str(exc)})

    def _write_file(self, entry_id: int) -> None:
        entry = self.store.get(entry_id)
        uid = self._entry_uid.get(entry_id) or self._uid_of(entry_id)
        if uid is None:
            return
        old = self._uid_path.get(uid)
        if old is not None and not old.exists():
            old = None
        write_entry(self.directory, entry, uid, old)
        self._entry_uid[entry_id] = uid
        self._uid_entry[uid] = entry_id
        if old is not None:
            self._path_uid.pop(old, None)
        self._remember(target_path(self.directory, entry, uid, old), uid)

    def _remove_file(self, entry_id: int) -> None:
        uid = self._entry_uid.pop(entry_id, None)
        if uid is not None:
            self._uid_entry.pop(uid, None)
        path = self._uid_path.pop(uid, None) if uid else None
        if path is not None:
            self._path_uid.pop(path, None)
            path.unlink(missing_ok=True)

    # -- files changed on disk ---------------------------------------------------------
    def _loop(self) -> None:
        assert self._notify is not None
        while not self._stop.is_set():
            try:
                changes = self._notify.watch(200, 50, 1000, self._stop)
            except RuntimeError:
                return
            if changes in ("stop", "signal"):
                continue
            try:
                self.apply(() if isinstance(changes, str) else changes)
            except (McpToolError, OSError) as exc:
                log.warning("knowledge sync could not import a change", extra={"error": str(exc)})

    def apply(self, changes: Iterable[tuple[int, str]]) -> None:
        """Import the files added or changed; delete the entries whose files went (in the
        previous round)."""
        present: list[Path] = []
        gone: list[Path] = []
        for change, name in changes:
            path = Path(name)
            if not self._is_note(path):
                continue
            (gone if change == _DELETED and not path.exists() else present).append(path)
        with self._lock:
            if present:
                self._import(sorted(set(present)))
            # A deletion waits one round: an editor that saves by delete-and-rename, or an
            # `rm -rf` of the whole folder, shows its second half by then.
            due, self._pending = self._pending, gone
            if due and not self.directory.is_dir():
                log.warning("knowledge sync folder is gone; its entries are kept")
                return
            vanished = [path for path in due if not path.exists()]
            if vanished:
                self._forget_unless_moved(vanished)

    def _forget_unless_moved(self, vanished: list[Path]) -> None:
        """Delete the entries of files that went, unless their id turns up in another file:
        a move whose second half the watcher has not reported yet is not a deletion."""
        elsewhere = scan_ids(self.directory)
        for path in vanished:
            uid = self._path_uid.get(path)
            moved_to = elsewhere.get(uid) if uid is not None else None
            if uid is not None and moved_to is not None and moved_to != path:
                self._path_uid.pop(path, None)
                self._remember(moved_to, uid)
                continue
            self._forget(path)

    def _import(self, paths: list[Path]) -> None:
        report = import_files(self.store, [p for p in paths if p.exists()])
        _log_problems(report.problems)
        uids = []
        for path in paths:
            uid = file_id(path)
            if uid is not None:
                self._remember(path, uid)
                uids.append(uid)
        self._learn_entries(uids)

    def _forget(self, path: Path) -> None:
        uid = self._path_uid.pop(path, None)
        if uid is None or self._uid_path.get(uid) != path:
            return  # not ours, or moved: another file carries the id now
        self._uid_path.pop(uid, None)
        entry_id = self._uid_entry.pop(uid, None)
        if entry_id is not None:
            self._entry_uid.pop(entry_id, None)
            self.store.delete(entry_id)

    # -- bookkeeping ---------------------------------------------------------------------
    def _is_note(self, path: Path) -> bool:
        try:
            parts = path.relative_to(self.directory).parts
        except ValueError:
            return False
        return path.suffix == ".md" and not any(part.startswith(".") for part in parts)

    def _remember(self, path: Path, uid: str) -> None:
        self._uid_path[uid] = path
        self._path_uid[path] = uid

    def _uid_of(self, entry_id: int) -> str | None:
        row = self.store.run(
            lambda c: c.execute(
                "SELECT uid FROM entry_uids WHERE entry_id = ?", (entry_id,)
            ).fetchone()
        )
        return str(row[0]) if row else None

    def _learn_entries(self, uids: list[str]) -> None:
        for start in range(0, len(uids), 500):
            chunk = uids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            sql = f"SELECT entry_id, uid FROM entry_uids WHERE uid IN ({marks})"  # noqa: S608
            for entry_id, uid in self.store.run(functools.partial(_rows, sql, chunk)):
                self._entry_uid[int(entry_id)] = str(uid)
                self._uid_entry[str(uid)] = int(entry_id)


def _rows(sql: str, params: list[str], conn: sqlite3.Connection) -> list[Any]:
    return conn.execute(sql, params).fetchall()


def _log_problems(problems: Iterable[object]) -> None:
    for problem in problems:
        log.warning("knowledge sync skipped a file", extra={"problem": str(problem)})
