"""The model registry: one SQLite file (``registry.db``) with every model found and measured."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from securellm.core.sqlite import write_transaction
from securellm.offload.discovery import Candidate, Format
from securellm.offload.estimate import Buffers, Calibration, LoadParams
from securellm.offload.gguf_meta import META_SCHEMA, ModelMeta, UnusableModel, read_gguf
from securellm.offload.scan_claims import ScanClaims

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    format TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    usable INTEGER NOT NULL,
    reason TEXT,
    meta TEXT,
    scanned_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS calibrations (
    model_id TEXT PRIMARY KEY,
    params TEXT NOT NULL,
    measured TEXT NOT NULL,
    measured_at REAL NOT NULL
);
"""

SCHEMA_VERSION = 2  # 2: a path may back several ids (Ollama tags that share one blob)
Progress = Callable[[int, int, Path], None]


@dataclass(frozen=True)
class ModelRecord:
    """One registry row."""

    id: str
    path: Path
    format: Format
    size: int
    mtime_ns: int
    usable: bool
    reason: str | None
    meta: ModelMeta | None

    @property
    def key(self) -> tuple[Path, str]:
        """Matches :attr:`Candidate.key` of the file (and Ollama tag) it was read from."""
        return self.path, self.id if self.format == "ollama" else ""


@dataclass
class ScanReport:
    """What a scan changed."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    unusable: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def _record(row: sqlite3.Row) -> ModelRecord:
    meta = ModelMeta.from_json(json.loads(row["meta"])) if row["meta"] else None
    return ModelRecord(
        id=row["id"],
        path=Path(row["path"]),
        format=row["format"],
        size=row["size"],
        mtime_ns=row["mtime_ns"],
        usable=bool(row["usable"]),
        reason=row["reason"],
        meta=meta,
    )


class Registry:
    """Thread-safe access to ``registry.db`` (scans run in a worker thread)."""

    def __init__(self, path: Path, reader: Callable[[Path], ModelMeta] = read_gguf) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._read = reader
        self._lock = threading.Lock()
        self._id_lock = threading.Lock()  # choosing a free id and writing it are one step
        self._claims = ScanClaims()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._migrate()
        self._db.executescript(SCHEMA)

    def _migrate(self) -> None:
        """Older files keep ``models`` unique by path; the table is a cache, so rebuild it."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            self._db.execute("DROP TABLE IF EXISTS models")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, write_transaction(self._db) as db:
            yield db

    def all(self) -> list[ModelRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM models ORDER BY id").fetchall()
        return [_record(r) for r in rows]

    def get(self, model_id: str) -> ModelRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM models WHERE id = ?", (model_id,)).fetchone()
        return _record(row) if row else None

    def find(self, model_id: str) -> ModelRecord | None:
        """``get``, or, while a scan runs, read the candidate that would get this id at once."""
        record = self.get(model_id)
        if record is not None:
            return record
        claim = self._claims.claim_for_find(model_id)
        if claim is None:
            return self.get(model_id)
        candidate, done, mine = claim
        if mine:
            try:
                self._scan_one(candidate, None, ScanReport())
            finally:
                done.set()
        else:
            done.wait(600)
        return self.get(model_id)

    def announce(self, candidates: list[Candidate]) -> None:
        """Make the new ones findable by id before the scan that will read them starts."""
        known = {r.key for r in self.all()}
        self._claims.open([c for c in candidates if c.key not in known])

    def scan(self, candidates: list[Candidate], progress: Progress | None = None) -> ScanReport:
        """Read new or changed files (size + mtime), drop vanished ones; never raises per file."""
        report = ScanReport()
        known = {r.key: r for r in self.all()}
        self._claims.open([c for c in candidates if c.key not in known])
        try:
            for done, candidate in enumerate(candidates, start=1):
                self._scan_claimed(candidate, known.get(candidate.key), report)
                if progress:
                    progress(done, len(candidates), candidate.path)
        finally:
            self._claims.close()
        seen = {c.key for c in candidates}
        gone = [record for key, record in known.items() if key not in seen]
        with self._tx() as db:
            for record in gone:
                db.execute("DELETE FROM models WHERE id = ?", (record.id,))
        report.removed = len(gone)
        return report

    def _scan_claimed(self, cand: Candidate, old: ModelRecord | None, report: ScanReport) -> None:
        event = self._claims.claim_for_scan(cand)
        if event is None:  # find() read it (or is reading it) while this scan ran
            report.added += 1
            return
        try:
            self._scan_one(cand, old, report)
        finally:
            event.set()

    def _scan_one(self, cand: Candidate, old: ModelRecord | None, report: ScanReport) -> None:
        try:
            stat = cand.path.stat()
            size, mtime_ns = stat.st_size, stat.st_mtime_ns
        except OSError:
            size, mtime_ns = 0, 0
        same_file = old is not None and old.size == size and old.mtime_ns == mtime_ns
        stale = old is not None and old.meta is not None and old.meta.schema < META_SCHEMA
        if old and same_file and not stale and cand.problem is None:
            report.unchanged += 1
            report.unusable += 0 if old.usable else 1
            return
        meta: ModelMeta | None = None
        reason = cand.problem
        if reason is None:
            try:
                meta = self._read(cand.path)
            except UnusableModel as exc:
                reason = str(exc)
        with self._id_lock:
            self._write(cand, old, (size, mtime_ns), meta, reason)
        report.updated += 1 if old else 0
        report.added += 0 if old else 1
        report.unusable += 0 if reason is None else 1

    def _write(
        self,
        cand: Candidate,
        old: ModelRecord | None,
        stat: tuple[int, int],
        meta: ModelMeta | None,
        reason: str | None,
    ) -> None:
        size, mtime_ns = stat
        model_id = old.id if old else self._free_id(cand)
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    model_id,
                    str(cand.path),
                    cand.format,
                    size,
                    mtime_ns,
                    int(reason is None),
                    reason,
                    json.dumps(meta.to_json()) if meta else None,
                    time.time(),
                ),
            )
            # a re-read of the same file (older meta) keeps the model's measurement
            if old is not None and (old.size, old.mtime_ns) != stat:
                db.execute("DELETE FROM calibrations WHERE model_id = ?", (model_id,))

    def _free_id(self, cand: Candidate) -> str:
        """The readable id if free, then the id with its quantisation, then a numbered one."""
        for option in (cand.id_hint, cand.alt_id):
            if self.get(option) is None:
                return option
        number = 2
        while self.get(f"{cand.alt_id}-{number}") is not None:
            number += 1
        return f"{cand.alt_id}-{number}"

    def save_calibration(self, model_id: str, params: LoadParams, measured: Buffers) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO calibrations VALUES (?, ?, ?, ?)",
                (
                    model_id,
                    json.dumps(params.to_json()),
                    json.dumps(measured.to_json()),
                    time.time(),
                ),
            )

    def calibration(self, model_id: str) -> Calibration | None:
        with self._lock:
            row = self._db.execute(
                "SELECT params, measured FROM calibrations WHERE model_id = ?", (model_id,)
            ).fetchone()
        if row is None:
            return None
        params = LoadParams(**json.loads(row["params"]))
        return Calibration(params=params, measured=Buffers.from_json(json.loads(row["measured"])))
