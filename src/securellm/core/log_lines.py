"""Whole lines to a file descriptor (stdout) without stalling the event loop on a full pipe.

A line goes out in one ``write`` call while the descriptor can take it (a write of at most
``PIPE_BUF`` bytes to a pipe is atomic, so worker processes sharing one stdout never split
each other's lines). When the reader (journald, a pager, a test) falls behind and the pipe
is full, lines wait in memory, in order, and the event loop writes them as soon as the
descriptor is writable again; past ``max_pending`` the oldest are dropped, and a line saying
how many follows once writing resumes. The descriptor itself stays blocking: its open file
description is shared with other processes, which must not see ``EAGAIN``.
"""

from __future__ import annotations

import asyncio
import os
import select
from collections import deque

import orjson


class LineWriter:
    """Writes newline-terminated lines to ``fd``; never blocks while a loop is running."""

    def __init__(self, fd: int = 1, max_pending: int = 10_000) -> None:
        self.fd = fd
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: deque[bytes] = deque()
        self._poll = select.poll()
        self._poll.register(fd, select.POLLOUT)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def write(self, line: bytes) -> None:
        """Write ``line`` (ending in a newline) now, or queue it until ``fd`` is writable."""
        if not self._pending and self._writable():
            self._write(line)
            return
        self._queue(line)
        self._watch()

    def close(self) -> None:
        """Stop watching the descriptor; what is still queued is written, blocking."""
        self._unwatch()
        while self._pending:
            self._write(self._pending.popleft())

    def _writable(self) -> bool:
        """Room for a line, or an error that makes the write fail at once (reader gone)."""
        return bool(self._poll.poll(0))

    def _write(self, line: bytes) -> None:
        view = memoryview(line)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:  # the reader is gone: nobody can read the line
            self.dropped += 1

    def _queue(self, line: bytes) -> None:
        if len(self._pending) >= self.max_pending:
            self._pending.popleft()
            self.dropped += 1
        self._pending.append(line)

    def _watch(self) -> None:
        if self._loop is not None:
            return
        try:
            loop = asyncio.get_running_loop()
            loop.add_writer(self.fd, self._flush)
        except (RuntimeError, OSError, ValueError):  # no loop, or a descriptor it cannot watch
            self.close()
            return
        self._loop = loop

    def _unwatch(self) -> None:
        if self._loop is not None:
            self._loop.remove_writer(self.fd)
            self._loop = None

    def _flush(self) -> None:
        if self.dropped and self._writable():
            notice = {"level": "warning", "message": f"{self.dropped} log lines dropped"}
            self.dropped = 0
            self._write(orjson.dumps(notice, option=orjson.OPT_APPEND_NEWLINE))
        while self._pending and self._writable():
            self._write(self._pending.popleft())
        if not self._pending:
            self._unwatch()
