"""Entry embeddings beside SQLite: float32 BLOBs in ``entry_vectors``, searched in memory.

This Python's ``sqlite3`` cannot load extensions (no ``sqlite-vec``), so the vectors are rows
of their own table and the search runs over a memory-resident, unit-normalised numpy matrix:
exact (one matrix product) below ``FAST_FROM_ROWS`` rows; above, sign codes pick candidates
that are rescored exactly (:mod:`securellm.mcp.knowledge.quantised`). Every entry has a
row here from the moment it is saved: ``vector IS NULL`` is the *pending* marker (set by
triggers on insert and on a change of title or content), so entries saved while no embedding
model answers are embedded later. ``seq`` grows with every change, so a process brings its
matrix up to date by reading only the rows with a larger ``seq`` than it has seen.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from securellm.core.sqlite import write_transaction
from securellm.mcp.knowledge.quantised import Codes, candidate_rows, sign_codes

_NEXT_SEQ = "(SELECT coalesce(max(seq), 0) + 1 FROM entry_vectors)"
VECTOR_SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS entry_vectors (
        entry_id INTEGER PRIMARY KEY REFERENCES entries(id) ON DELETE CASCADE,
        model TEXT NOT NULL DEFAULT '', vector BLOB, seq INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS entry_vectors_seq ON entry_vectors(seq)",
    """CREATE INDEX IF NOT EXISTS entry_vectors_pending ON entry_vectors(entry_id)
        WHERE vector IS NULL""",
    """CREATE TRIGGER IF NOT EXISTS entry_vectors_ai AFTER INSERT ON entries BEGIN
        INSERT INTO entry_vectors (entry_id, seq)
        VALUES (new.id, (SELECT coalesce(max(seq), 0) + 1 FROM entry_vectors));
    END""",
    """CREATE TRIGGER IF NOT EXISTS entry_vectors_au AFTER UPDATE OF title, content ON entries
    WHEN old.content IS NOT new.content OR old.title IS NOT new.title BEGIN
        UPDATE entry_vectors SET vector = NULL,
            seq = (SELECT coalesce(max(seq), 0) + 1 FROM entry_vectors)
        WHERE entry_id = new.id;
    END""",
    # Entries older than this table (or saved by an older server) become pending too.
    """INSERT INTO entry_vectors (entry_id, seq)
        SELECT id, (SELECT coalesce(max(seq), 0) FROM entry_vectors) + id FROM entries
        WHERE id NOT IN (SELECT entry_id FROM entry_vectors)""",
)

Matrix = npt.NDArray[np.float32]
FAST_FROM_ROWS = 20_000  # below this, exact search is a few ms and is kept
CANDIDATES = 2_000  # rows the sign codes pick for exact rescoring (recall in the benchmark)


def ensure_vector_schema(conn: sqlite3.Connection) -> None:
    """Create the table and triggers if missing; idempotent, safe for racing processes."""
    with write_transaction(conn):
        for statement in VECTOR_SCHEMA:
            conn.execute(statement)


@dataclass(frozen=True)
class Pending:
    """An entry waiting for its embedding."""

    entry_id: int
    text: str


def pending(conn: sqlite3.Connection, model: str, limit: int, max_chars: int) -> list[Pending]:
    """Entries with no vector, or one made by another model."""
    rows = conn.execute(
        "SELECT e.id, coalesce(e.title, ''), e.content FROM entry_vectors v "
        "JOIN entries e ON e.id = v.entry_id WHERE v.vector IS NULL OR v.model != ? "
        "ORDER BY v.entry_id LIMIT ?",
        (model, limit),
    ).fetchall()
    return [Pending(int(i), f"{t}\n{c}".strip()[:max_chars]) for i, t, c in rows]


def pending_count(conn: sqlite3.Connection, model: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM entry_vectors WHERE vector IS NULL OR model != ?", (model,)
    ).fetchone()
    return int(row[0])


def store_vectors(
    conn: sqlite3.Connection, model: str, items: list[tuple[Pending, Matrix]]
) -> None:
    """Write embeddings; an entry edited meanwhile keeps its pending marker (text changed)."""
    with write_transaction(conn):
        for item, vector in items:
            current = conn.execute(
                "SELECT coalesce(title, ''), content FROM entries WHERE id = ?", (item.entry_id,)
            ).fetchone()
            if current is None:
                continue
            if f"{current[0]}\n{current[1]}".strip()[: len(item.text)] != item.text:
                continue
            conn.execute(
                f"UPDATE entry_vectors SET model = ?, vector = ?, seq = {_NEXT_SEQ} "  # noqa: S608
                "WHERE entry_id = ?",
                (model, np.asarray(vector, dtype=np.float32).tobytes(), item.entry_id),
            )


class VectorIndex:
    """The vectors of one model, held in memory and refreshed from ``seq`` on each search."""

    def __init__(
        self, model: str, fast_from: int = FAST_FROM_ROWS, candidates: int = CANDIDATES
    ) -> None:
        self.model = model
        self.fast_from = fast_from
        self.candidates = candidates
        self._codes: Codes | None = None
        self._lock = threading.Lock()
        self._ids: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._matrix: Matrix = np.zeros((0, 0), dtype=np.float32)
        self._rows: dict[int, int] = {}
        self._size = 0
        self._seq = 0

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def nbytes(self) -> int:
        """Memory held by the matrix (allocated rows included)."""
        codes = 0 if self._codes is None else self._codes.nbytes
        return int(self._matrix.nbytes + self._ids.nbytes + codes)

    def refresh(self, conn: sqlite3.Connection, max_rows: int = -1) -> int:
        """Read the rows changed since the last refresh (all of them the first time), at most
        ``max_rows`` of them (-1: no limit); how many were read."""
        with self._lock:
            rows = conn.execute(
                "SELECT entry_id, model, vector, seq FROM entry_vectors WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (self._seq, max_rows),
            ).fetchall()
            for entry_id, model, blob, seq in rows:
                self._seq = max(self._seq, int(seq))
                if blob is None or model != self.model:
                    self._drop(int(entry_id))
                else:
                    self._put(int(entry_id), np.frombuffer(blob, dtype=np.float32))
            return len(rows)

    def switch(self, model: str) -> None:
        """Hold the vectors of ``model`` from now on (none until the next refresh reads them)."""
        with self._lock:
            if model == self.model:
                return
            self.model = model
            self._rows.clear()
            self._matrix = np.zeros((0, 0), dtype=np.float32)
            self._ids = np.zeros(0, dtype=np.int64)
            self._size = self._seq = 0
            self._codes = None

    def put(self, entry_id: int, vector: Matrix) -> None:
        """Hold ``vector`` for ``entry_id`` (what :meth:`refresh` does for each row read)."""
        with self._lock:
            self._put(entry_id, vector)

    def forget(self, entry_ids: set[int]) -> None:
        """Leave out entries found to be gone (deleted rows leave no ``seq`` behind)."""
        with self._lock:
            for entry_id in entry_ids:
                self._drop(entry_id)

    def nearest(self, query: Matrix, k: int) -> list[tuple[int, float]]:
        """The ``k`` entries with the highest cosine similarity to ``query``, best first.

        Scores are exact; from ``fast_from`` rows on, the rows scored are the ``candidates``
        nearest by sign code (see :mod:`securellm.mcp.knowledge.quantised`)."""
        with self._lock:
            if not self._rows or query.shape[-1] != self._matrix.shape[1]:
                return []
            unit = _normalise(query.astype(np.float32).reshape(-1))
            rows = self._fast_rows(unit, k)
            matrix = self._matrix[: self._size] if rows is None else self._matrix[rows]
            scores = matrix @ unit
            ids = self._ids[: self._size] if rows is None else self._ids[rows]
            scores[ids < 0] = -np.inf
            k = min(k, len(self._rows), len(scores))
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top])]
            return [(int(ids[i]), float(scores[i])) for i in top if ids[i] >= 0]

    def _fast_rows(self, unit: Matrix, k: int) -> npt.NDArray[np.intp] | None:
        """The rows to rescore, or ``None`` for all of them (a small index: exact search)."""
        n = max(self.candidates, 4 * k)
        if self._size < self.fast_from or n >= self._size:
            return None
        if self._codes is None:
            self._codes = sign_codes(self._matrix)
        return candidate_rows(self._codes, unit, self._size, n)

    def _put(self, entry_id: int, vector: Matrix) -> None:
        if self._matrix.shape[1] != vector.shape[0]:
            if self._rows:  # another dimension: the model changed under us; start over
                self._rows.clear()
            self._matrix = np.zeros((max(1024, 2 * self._size), vector.shape[0]), np.float32)
            self._ids = np.full(self._matrix.shape[0], -1, dtype=np.int64)
            self._size = 0
            self._codes = None
        row = self._rows.get(entry_id)
        if row is None:
            if self._size == self._matrix.shape[0]:
                self._grow()
            row, self._size = self._size, self._size + 1
            self._rows[entry_id] = row
        self._matrix[row] = _normalise(vector)
        self._ids[row] = entry_id
        if self._codes is not None:
            self._codes[:, row] = sign_codes(self._matrix[row : row + 1])[:, 0]

    def _drop(self, entry_id: int) -> None:
        row = self._rows.pop(entry_id, None)
        if row is not None:
            self._ids[row] = -1

    def _grow(self) -> None:
        extra = self._matrix.shape[0]
        self._matrix = np.vstack([self._matrix, np.zeros_like(self._matrix)])
        self._ids = np.concatenate([self._ids, np.full(extra, -1, dtype=np.int64)])
        self._codes = None  # rebuilt for the larger matrix at the next fast search


def _normalise(vector: Matrix) -> Matrix:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
