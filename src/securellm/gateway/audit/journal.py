"""One writer stream's chain on disk: resume it, repair a torn line, append, keep the head.

Synchronous file work: the writer runs it on the event loop for small batches and in a
worker thread otherwise. A :class:`Journal` belongs to the process holding the stream's
``stream-<N>.lock``.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any

import orjson

from securellm.gateway.audit import record as records
from securellm.gateway.audit.chain import (
    GENESIS,
    REPAIR,
    Head,
    algorithm,
    count_lines,
    day_of,
    file_name,
    first_prev_hash,
    head_streams,
    last_record,
    sealed_line,
    stream_files,
    tail_fragment,
)

log = logging.getLogger(__name__)
# A sealed record, the file it went to and its line there: the index row is built later,
# off the response's path.
Placed = tuple[dict[str, Any], str, int]


class _Today:
    """Today's UTC date, formatted once a day (``datetime.now`` costs microseconds a call)."""

    def __init__(self) -> None:
        self._day = -1
        self._text = ""

    def __call__(self) -> str:
        day = int(time.time()) // 86_400
        if day != self._day:
            self._text = time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))
            self._day = day
        return self._text


today = _Today()


class WriteFailed(OSError):
    """A write stopped part-way: the first ``done`` records of the batch reached the file."""

    def __init__(self, cause: OSError, done: int, rows: list[Placed]) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.done, self.rows = done, rows


class _Partial(OSError):
    def __init__(self, cause: OSError, written: int) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.written = written


class Journal:
    """The chain state of one stream (day, seq, last hash, retained files) and its files."""

    def __init__(self, directory: Path, stream: int, key: bytes | None, fsync: bool) -> None:
        self.directory = directory
        self.stream = stream
        self.key = key
        self.alg = algorithm(key)
        self.fsync = fsync
        self.day = ""
        self.seq = 0
        self.prev = GENESIS
        self.lines = 0  # lines of the day's file: records and repaired fragments
        self.files: dict[str, int] = {}
        self.anchor = GENESIS
        self.removed_before: str | None = None
        self.head_file = ""
        self.torn = False  # a failed write left part of a line at the end of the day's file
        self.head_stale = False
        self._new_day = False
        self._fd: int | None = None  # the file appended to, kept open
        self._fd_name = ""
        self._head_hash = GENESIS

    # -- start ----------------------------------------------------------------------------

    def load(self) -> list[Path]:
        """Take over the head's view of the chain; return the stream's files, oldest first."""
        files = stream_files(self.directory).get(self.stream, [])
        head = Head.load(self.directory, self.stream)
        if head is not None:
            self.prev, self.head_file = head.hash, head.file
            self._head_hash = head.hash
        if head is not None and head.files is not None:
            self.files = dict(head.files)
            self.anchor, self.removed_before = head.anchor, head.removed_before
        else:  # no head, or one written before per-file counts: adopt what is there
            self.anchor = (first_prev_hash(files[0]) if files else None) or self.prev
        for path in files:
            if path.name not in self.files:
                last = last_record(path)
                self.files[path.name] = last[0] if last else 0
        return files

    def resume(self) -> list[Placed]:
        """Continue the chain where the newest file ends; repair a line torn by a crash."""
        files = self.load()
        for path in reversed(files):
            last = last_record(path)
            if last is not None:
                self.prev = last[1]
                if path == files[-1]:
                    self.seq = last[0]
                break
        if self._head_file_gone(files):
            return []
        if not files:
            return []
        newest = files[-1]
        self.day, self.head_file = day_of(newest.name), newest.name
        self.lines = count_lines(newest)
        rows = self.close_fragment(newest)  # the repair takes the torn record's number
        # A head still ahead of the file means records were cut while the gateway was down:
        # numbering goes on from the head, so verify reports the gap.
        self.seq = max(self.seq, self.files.get(newest.name, 0))
        self.files[newest.name] = self.seq
        self.head_stale = True
        return rows

    def _head_file_gone(self, files: list[Path]) -> bool:
        """The newest file the head lists was deleted while no writer ran: go on where the
        head says the chain ended (its numbering too), so the file is written anew with a gap
        ``verify`` reports, and the head keeps the count it had."""
        name = self.head_file
        if not name or name not in self.files or any(p.name == name for p in files):
            return False
        if files and day_of(name) < day_of(files[-1].name):
            return False
        self.prev, self.day, self.seq, self.lines = (
            self._head_hash,
            day_of(name),
            self.files[name],
            0,
        )
        log.warning("audit: %s, the newest file of the chain, is missing", name)
        return True

    def close_fragment(self, path: Path) -> list[Placed]:
        """End a torn last line with a newline and record what it was (``audit.repair``)."""
        if not path.exists():
            return []
        offset, fragment = tail_fragment(path)
        if not fragment:
            return []
        whole = _whole_record(fragment)
        if whole is not None:  # only its newline is missing: it counts
            self._append(path, b"\n")
            self.lines += 1
            if whole[0] > self.seq:
                self.seq, self.prev = whole
                self.files[path.name] = self.seq
            return []
        repair = records.system(
            REPAIR,
            "repaired",
            repair={
                "file": path.name,
                "offset": offset,
                "length": len(fragment),
                "sha256": hashlib.sha256(fragment).hexdigest(),
            },
        )
        self.seq += 1
        repair["seq"], repair["chain"], repair["prev_hash"] = self.seq, self.alg, self.prev
        line, digest = sealed_line(repair, self.key)
        self._append(path, b"\n" + line)
        self.prev, self.lines = digest, self.lines + 2
        self.files[path.name] = self.seq
        self.head_stale = True
        log.warning(
            "audit: closed a line torn by a crash in %s (%d bytes at offset %d)",
            path.name,
            len(fragment),
            offset,
        )
        return [(repair, path.name, self.lines)]

    # -- appending ------------------------------------------------------------------------

    def append(self, batch: list[dict[str, Any]]) -> tuple[list[Placed], bool]:
        """Chain and append ``batch`` to the day's file in one write; return where each
        record went and whether the day changed. The chain moves only past what reached the
        file; on an error :class:`WriteFailed` says how many records did.
        """
        rows: list[Placed] = []
        if self.torn:  # the end of the last write is a fragment: close it off first
            try:
                rows += self.close_fragment(self.directory / file_name(self.day, self.stream))
            except OSError as exc:
                raise WriteFailed(exc, 0, rows) from exc
            self.torn = False
        day = today()
        if day != self.day:
            self.day, self.seq, self.lines, self._new_day = day, 0, 0, True
        name = file_name(day, self.stream)
        path = self.directory / name
        seq, prev = self.seq, self.prev
        lines: list[bytes] = []
        hashes: list[str] = []
        for rec in batch:
            seq += 1
            rec["seq"], rec["chain"], rec["prev_hash"] = seq, self.alg, prev
            line, prev = sealed_line(rec, self.key)
            lines.append(line)
            hashes.append(prev)
        data = b"".join(lines)
        try:
            written = self._append(path, data)
        except _Partial as partial:
            done = self._commit(name, batch, lines, hashes, partial.written)
            self.torn = partial.written > sum(len(line) for line in lines[:done])
            rows += self._rows(batch[:done], name)
            raise WriteFailed(partial, done, rows) from partial
        self._commit(name, batch, lines, hashes, written)
        rows += self._rows(batch, name)
        rolled, self._new_day = self._new_day, False
        if rolled:
            self.dump_head()  # the previous day's count is final: the head says so now
        return rows, rolled

    def _append(self, path: Path, data: bytes) -> int:
        fd = self._open(path)
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
            if self.fsync:
                os.fsync(fd)
        except OSError as exc:
            raise _Partial(exc, written) from exc
        return written

    def _open(self, path: Path) -> int:
        if self._fd is not None and self._fd_name == path.name:
            return self._fd
        self.close()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._fd_name = path.name
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self._fd_name = None, ""

    def _commit(
        self,
        name: str,
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
            self.seq, self.prev = batch[done - 1]["seq"], hashes[done - 1]
            self.files[name], self.head_file = self.seq, name
            self.head_stale = True
        return done

    def _rows(self, batch: list[dict[str, Any]], name: str) -> list[Placed]:
        first = self.lines + 1
        self.lines += len(batch)
        return [(rec, name, first + i) for i, rec in enumerate(batch)]

    # -- head and retention ---------------------------------------------------------------

    def dump_head(self) -> None:
        head = Head(
            self.head_file,
            self.files.get(self.head_file, 0),
            self.prev,
            files=dict(self.files),
            anchor=self.anchor,
            removed_before=self.removed_before,
        )
        head.dump(self.directory, self.stream, self.key)
        self.head_stale = False

    def prune(self, cutoff_day: str) -> int:
        """Delete the files dated before ``cutoff_day`` and say so in the head."""
        present = {p.name for p in stream_files(self.directory).get(self.stream, [])}
        old = sorted(n for n in self.files.keys() | present if day_of(n) < cutoff_day)
        if not old:
            return 0
        removed, last_hash = 0, None
        for name in old:
            path = self.directory / name
            if name in present:
                last = last_record(path)
                last_hash = last[1] if last else last_hash
                path.unlink(missing_ok=True)
                removed += 1
            self.files.pop(name, None)
        kept = sorted((n for n in self.files if n in present), key=day_of)
        if last_hash is None and kept:  # the old files were gone already: start at the next
            last_hash = first_prev_hash(self.directory / kept[0])
        self.anchor = last_hash or self.anchor
        self.removed_before = max(self.removed_before or "", cutoff_day)
        self.dump_head()
        return removed


def _whole_record(line: bytes) -> tuple[int, str] | None:
    """``(seq, hash)`` when ``line`` is a complete record."""
    try:
        parsed = orjson.loads(line)
        return int(parsed["seq"]), str(parsed["hash"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def lock_stream(directory: Path, stream: int) -> int | None:
    """The fd holding ``stream-<N>.lock``, or ``None`` while another process holds it."""
    fd = os.open(directory / f"stream-{stream}.lock", os.O_CREAT | os.O_RDWR, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def prune_idle_streams(directory: Path, cutoff_day: str, key: bytes | None, own: int) -> int:
    """Retention for the streams no process holds now (a stopped worker's); their heads too."""
    removed = 0
    streams = set(stream_files(directory)) | head_streams(directory)
    for stream in sorted(streams - {own}):
        fd = lock_stream(directory, stream)
        if fd is None:
            continue  # its writer applies retention itself
        try:
            journal = Journal(directory, stream, key, fsync=False)
            journal.load()
            removed += journal.prune(cutoff_day)
        finally:
            os.close(fd)
    return removed
