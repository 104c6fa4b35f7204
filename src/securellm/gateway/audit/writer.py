"""The audit sink: requests hand it their record; it writes them to the stream's file.

Durable (the default): the records that finish in one turn of the event loop are chained
and appended in one ``write`` right after it (group commit), and :meth:`AuditWriter.record`
returns what the response waits for before its last byte goes out. Once ``write`` returns
the record is in the OS page cache: a SIGKILL at any moment loses no record of a request a
client saw answered (``fsync`` also survives a power cut, at one ``fsync`` per write).
Not durable: the records are written every ``flush_interval`` and nothing waits; a SIGKILL
loses at most one interval. Either way the database index is fed every interval and the
head file kept up to date, and on shutdown everything still queued is written. Several
processes may share a directory: each takes the first free stream lock
(``stream-<N>.lock``) and keeps its own chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.gateway.audit import journal
from securellm.gateway.audit import record as records
from securellm.gateway.audit.index import index_for, row_of
from securellm.gateway.audit.journal import (
    Journal,
    Placed,
    WriteFailed,
    lock_stream,
    prune_idle_streams,
)
from securellm.gateway.context import RequestContext
from securellm.gateway.tables import audit_events

log = logging.getLogger(__name__)
MAX_STREAMS = 256
# Small batches are chained and written on the event loop (a few ms at most); handing them
# to a thread costs more in GIL hand-offs than it saves. Large ones go to a thread.
INLINE_BATCH = 500


class AuditWriter:
    """The audit sink (``record``) and its writer tasks."""

    def __init__(
        self,
        directory: Path,
        *,
        key: bytes | None = None,
        flush_interval_s: float = 0.2,
        retention_days: int = 90,
        engine: AsyncEngine | None = None,
        fsync: bool = False,
        durable: bool = True,
    ) -> None:
        self.directory = directory
        self.key = key
        self.interval = flush_interval_s
        self.retention_days = retention_days
        self.engine = engine
        self.index = index_for(engine) if engine is not None else None
        self.fsync = fsync
        self.durable = durable
        self.stream = -1
        self.written = 0
        self.last_error: str | None = None
        self.journal: Journal | None = None
        self._pending: list[dict[str, Any]] = []
        self._waiters: list[asyncio.Future[None]] = []  # responses waiting for the write
        self._rows: list[Placed] = []  # written, not yet in the index
        self._lock_fd: int | None = None
        self._files = asyncio.Lock()
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._closed = False
        self._sweep_due = False
        self._tasks: list[asyncio.Task[None]] = []

    # -- the sink -------------------------------------------------------------------------

    def record(self, ctx: RequestContext) -> asyncio.Future[None] | None:
        """Queue one request's record; durable, return a future done once it is written.

        Each request gets a future of its own (a cancelled request cancels only its own);
        all those queued before the next write are settled by it.
        """
        self._pending.append(records.build(ctx))
        if self._closed:
            log.warning("audit record after the writer closed; writing it at once")
            self._write_now()
            return None
        if not self.durable:
            return None
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self._waiters:
            self._wake.set()
        self._waiters.append(waiter)
        return waiter

    @property
    def queued(self) -> int:
        return len(self._pending)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        rows = await asyncio.to_thread(self._open)
        self._rows += rows
        await self._sweep()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._tick()))
        if self.durable:
            self._tasks.append(loop.create_task(self._commits()))

    async def close(self) -> None:
        """Write everything still queued, then release the stream."""
        self._closing.set()
        self._wake.set()
        for task in self._tasks:
            await task
        await self._write_pending()
        self._closed = True  # from here on a late record is written at once
        await self.flush()
        if self.index is not None:
            self.index.close()
        if self.journal is not None:
            self.journal.close()
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

    async def flush(self) -> None:
        """Write what is queued, index what is written, and bring the head up to date."""
        await self._write_pending()
        await self._index_rows()
        if self.journal is not None and self.journal.head_stale:
            async with self._files:
                self._dump_head()

    async def _commits(self) -> None:
        """Durable mode: one write per loop turn that queued records."""
        while not self._closing.is_set():
            await self._wake.wait()
            self._wake.clear()
            await self._write_pending()

    async def _tick(self) -> None:
        """Every interval: write what waits (all of it when not durable, or a retry), feed
        the index, refresh the head, apply retention after a new day began."""
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.interval)
            if self._closing.is_set():
                return
            await self.flush()
            if self._sweep_due:
                self._sweep_due = False
                await self._sweep()

    # -- writing --------------------------------------------------------------------------

    async def _write_pending(self) -> None:
        if not self._pending or self.journal is None:
            return
        batch, self._pending = self._pending, []
        waiting, self._waiters = self._waiters, []
        try:
            async with self._files:
                if len(batch) <= INLINE_BATCH:
                    rows, rolled = self.journal.append(batch)
                else:
                    rows, rolled = await asyncio.to_thread(self.journal.append, batch)
        except WriteFailed as exc:
            self._failed(exc, batch[exc.done :])
            self._written(exc.rows, exc.done)
        except OSError as exc:
            self._failed(exc, batch)
        except Exception:  # a record that cannot be sealed must not block the others
            log.exception("audit batch could not be sealed; writing its records one by one")
            await self._one_by_one(batch)
        else:
            self._written(rows, len(batch))
            self.last_error = None
            self._sweep_due = self._sweep_due or rolled
        finally:
            # On an error the responses are not held back (they would wait for a disk that
            # may never come back): their records stay queued and are retried every interval.
            for waiter in waiting:
                if not waiter.done():
                    waiter.set_result(None)

    async def _one_by_one(self, batch: list[dict[str, Any]]) -> None:
        assert self.journal is not None
        async with self._files:
            for n, rec in enumerate(batch):
                try:
                    rows, _ = self.journal.append([rec])
                except OSError as exc:
                    self._failed(exc, batch[n:])
                    return
                except Exception:
                    self.last_error = "a record could not be sealed"
                    log.exception("audit record dropped: it cannot be sealed")
                else:
                    self._written(rows, 1)

    def _written(self, rows: list[Placed], count: int) -> None:
        self.written += count
        self._rows += rows

    def _failed(self, exc: OSError, unwritten: list[dict[str, Any]]) -> None:
        self._pending[:0] = unwritten
        self.last_error = f"write failed: {exc.strerror}"
        log.error("audit write failed: %s", exc.strerror)

    def _write_now(self) -> None:
        if self.journal is None:
            return
        batch, self._pending = self._pending, []
        try:
            rows, _ = self.journal.append(batch)
            self.journal.dump_head()
        except OSError as exc:
            log.error("audit write failed: %s", exc.strerror)
            return
        self._written(rows, len(batch))

    def _dump_head(self) -> None:
        assert self.journal is not None
        try:
            self.journal.dump_head()
        except OSError as exc:
            self.last_error = f"head write failed: {exc.strerror}"
            log.error("audit head write failed: %s", exc.strerror)

    # -- files (run in a worker thread) ---------------------------------------------------

    def _open(self) -> list[Placed]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o750)
        for n in range(MAX_STREAMS):
            fd = lock_stream(self.directory, n)
            if fd is not None:
                self._lock_fd, self.stream = fd, n
                break
        else:
            raise RuntimeError(f"more than {MAX_STREAMS} audit writers share {self.directory}")
        self.journal = Journal(self.directory, self.stream, self.key, self.fsync)
        rows = self.journal.resume()
        self.journal.dump_head()
        return rows

    # -- database index and retention -----------------------------------------------------

    async def _index_rows(self) -> None:
        if not self._rows:
            return
        placed, self._rows = self._rows, []
        if self.index is None:
            return
        try:
            await self.index.insert([row_of(*where) for where in placed])
        except Exception as exc:  # the files stay the source of truth
            self.last_error = f"index failed: {type(exc).__name__}"
            log.error("audit index insert failed: %s", type(exc).__name__)

    async def _sweep(self) -> None:
        """Delete files and index rows older than the retention period."""
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        day = date.fromisoformat(journal.today()) - timedelta(days=self.retention_days)
        try:
            async with self._files:
                removed = await asyncio.to_thread(self._remove_old, day.isoformat())
        except OSError as exc:
            self.last_error = f"retention failed: {exc.strerror}"
            log.error("audit retention failed: %s", exc.strerror)
            removed = 0
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
        assert self.journal is not None
        removed = self.journal.prune(cutoff_day)
        return removed + prune_idle_streams(self.directory, cutoff_day, self.key, self.stream)
