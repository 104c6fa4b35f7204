"""Writes audit records off the request path: a list the sink appends to, one writer task.

Every ``flush_interval`` the writer takes what is pending, chains and appends it to the
day's file in one ``write`` (then the head file), and indexes it in the database. On
shutdown it writes everything still pending; a SIGKILL loses at most one interval.
Several processes may share a directory: each takes the first free stream lock
(``stream-<N>.lock``) and keeps its own chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.gateway.audit import record as records
from securellm.gateway.audit.chain import (
    FILE_RE,
    GENESIS,
    Head,
    algorithm,
    file_name,
    last_record,
    sealed_line,
    stream_files,
)
from securellm.gateway.audit.index import Row, index_for, row_of
from securellm.gateway.context import RequestContext
from securellm.gateway.tables import audit_events

log = logging.getLogger(__name__)
MAX_STREAMS = 256
# Small batches are chained and written on the event loop (a few ms at most); handing them
# to a thread costs more in GIL hand-offs than it saves. Large ones go to a thread.
INLINE_BATCH = 500


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


class AuditWriter:
    """The audit sink (``record``) and its writer task."""

    def __init__(
        self,
        directory: Path,
        *,
        key: bytes | None = None,
        flush_interval_s: float = 0.2,
        retention_days: int = 90,
        engine: AsyncEngine | None = None,
        fsync: bool = False,
    ) -> None:
        self.directory = directory
        self.key = key
        self.alg = algorithm(key)
        self.interval = flush_interval_s
        self.retention_days = retention_days
        self.engine = engine
        self.index = index_for(engine) if engine is not None else None
        self.fsync = fsync
        self.stream = -1
        self.written = 0
        self.last_error: str | None = None
        self._pending: list[dict[str, Any]] = []
        self._lock_fd: int | None = None
        self._day = ""
        self._fragment = False
        self._seq = 0
        self._prev = GENESIS
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    # -- the sink -------------------------------------------------------------------------

    def record(self, ctx: RequestContext) -> None:
        """Queue one request's record (cheap; never blocks the request)."""
        self._pending.append(records.build(ctx))

    @property
    def queued(self) -> int:
        return len(self._pending)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._open)
        await self._sweep()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Write everything still queued, then release the stream."""
        self._closing.set()
        if self._task is not None:
            await self._task
        await self.flush()
        if self.index is not None:
            self.index.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def status(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "stream": self.stream,
            "queued": self.queued,
            "written": self.written,
        }
        if self.last_error:
            state["last_error"] = self.last_error
        return state

    async def _run(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.interval)
            await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            if len(batch) <= INLINE_BATCH:
                rows, rolled = self._write(batch)
            else:
                rows, rolled = await asyncio.to_thread(self._write, batch)
        except OSError as exc:  # _write put back what it could not write
            self.last_error = f"write failed: {exc.strerror}"
            log.error("audit write failed: %s", exc.strerror)
            return
        self.written += len(rows)
        self.last_error = None
        await self._index(rows)
        if rolled:
            await self._sweep()

    # -- files (run in a worker thread) ---------------------------------------------------

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o750)
        for n in range(MAX_STREAMS):
            fd = os.open(self.directory / f"stream-{n}.lock", os.O_CREAT | os.O_RDWR, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._lock_fd, self.stream = fd, n
            break
        else:
            raise RuntimeError(f"more than {MAX_STREAMS} audit writers share {self.directory}")
        self._resume()

    def _resume(self) -> None:
        """Continue the stream's chain where its newest file ends."""
        files = stream_files(self.directory).get(self.stream, [])
        head = Head.load(self.directory, self.stream)
        self._prev = head.hash if head else GENESIS
        for path in reversed(files):
            last = last_record(path)
            if last is None:
                continue
            self._prev = last[1]
            match = FILE_RE.match(path.name)
            if match and path == files[-1] and match.group(1) == _today():
                self._day, self._seq = match.group(1), last[0]
                self._terminate(path)
            break

    @staticmethod
    def _terminate(path: Path) -> None:
        """A crash mid-line leaves a fragment; start the next record on a line of its own."""
        with path.open("rb+") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")

    def _write(self, batch: list[dict[str, Any]]) -> tuple[list[Row], bool]:
        """Chain and append ``batch``; the chain state moves only past what reached the file.

        On an error (disk full...) the records written whole stay written, the rest are put
        back in front of the queue, and a fragment, if any, is closed before the next write.
        """
        day = _today()
        seq, prev = (self._seq, self._prev) if day == self._day else (0, self._prev)
        name = file_name(day, self.stream)
        path = self.directory / name
        lines: list[bytes] = []
        hashes: list[str] = []
        for rec in batch:
            seq += 1
            rec["seq"], rec["chain"], rec["prev_hash"] = seq, self.alg, prev
            line, prev = sealed_line(rec, self.key)
            lines.append(line)
            hashes.append(prev)
        if self._fragment:
            self._terminate(path)
            self._fragment = False
        data = b"".join(lines)
        written = 0
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
            if self.fsync:
                os.fsync(fd)
        except OSError:
            done = self._commit(day, batch, lines, hashes, written)
            self._fragment = written > sum(len(line) for line in lines[:done])
            self._pending[:0] = batch[done:]
            raise
        finally:
            os.close(fd)
        rolled = day != self._day
        self._commit(day, batch, lines, hashes, written)
        Head(name, self._seq, self._prev).dump(self.directory, self.stream)
        return [row_of(rec, name) for rec in batch], rolled

    def _commit(
        self,
        day: str,
        batch: list[dict[str, Any]],
        lines: list[bytes],
        hashes: list[str],
        written: int,
    ) -> int:
        """Advance the chain past the records whose whole line was written; return how many."""
        done, total = 0, 0
        for line in lines:
            if total + len(line) > written:
                break
            total += len(line)
            done += 1
        if done:
            self._day, self._seq, self._prev = day, batch[done - 1]["seq"], hashes[done - 1]
        return done

    # -- database index and retention -----------------------------------------------------

    async def _index(self, rows: list[Row]) -> None:
        if self.index is None or not rows:
            return
        try:
            await self.index.insert(rows)
        except Exception as exc:  # the files stay the source of truth
            self.last_error = f"index failed: {type(exc).__name__}"
            log.error("audit index insert failed: %s", type(exc).__name__)

    async def _sweep(self) -> None:
        """Delete files and index rows older than the retention period."""
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        removed = await asyncio.to_thread(self._remove_old, cutoff.strftime("%Y-%m-%d"))
        if removed:
            log.info("audit retention removed %d file(s)", removed)
        if self.engine is not None:
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(
                        delete(audit_events).where(audit_events.c.ts < cutoff.timestamp())
                    )
            except Exception as exc:
                log.error("audit index retention failed: %s", type(exc).__name__)

    def _remove_old(self, cutoff_day: str) -> int:
        removed = 0
        for files in stream_files(self.directory).values():
            for path in files:
                match = FILE_RE.match(path.name)
                if match and match.group(1) < cutoff_day:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed
