"""Each model server's output in a bounded log file: write, tail, and follow it.

A server writes into a pipe that offload copies into ``<log_dir>/<model>.log``; past
``max_bytes`` the file becomes ``<model>.log.1`` (the one before is dropped) and a new one
starts, so a chatty server never fills the disk. ``tail`` and ``follow`` read both files.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO

CHUNK = 64 * 1024


def server_log_path(log_dir: Path, model_id: str) -> Path:
    """``gemma3:270m`` -> ``<log_dir>/gemma3_270m.log`` (no separators from the id)."""
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in model_id)
    return log_dir / f"{safe.lstrip('.') or 'model'}.log"


def _previous(path: Path) -> Path:
    return path.with_name(path.name + ".1")


class BoundedLog:
    """An append-only file that rotates once it passes ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, _previous(path))  # a new server starts a new file
        self._file: IO[bytes] | None = path.open("ab")
        self._size = 0

    def write(self, data: bytes) -> None:
        if self._file is None:
            return
        if self._size + len(data) > self.max_bytes and self._size:
            self._file.close()
            os.replace(self.path, _previous(self.path))
            self._file = self.path.open("ab")
            self._size = 0
        self._file.write(data)
        self._file.flush()
        self._size += len(data)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


async def pump(stream: asyncio.StreamReader, log: BoundedLog) -> None:
    """Copy a server's output into ``log`` until the server closes it."""
    while chunk := await stream.read(CHUNK):
        log.write(chunk)


def read_all(path: Path) -> bytes:
    """The previous file and the current one, oldest first."""
    parts = []
    for part in (_previous(path), path):
        with contextlib.suppress(OSError):
            parts.append(part.read_bytes())
    return b"".join(parts)


def tail(path: Path, lines: int) -> bytes:
    """The last ``lines`` lines of the log (both files), each ending in a newline."""
    text = read_all(path).splitlines(keepends=True)[-lines:] if lines > 0 else []
    return b"".join(text)


async def follow(
    path: Path, lines: int, running: Callable[[], bool], poll_s: float = 0.25
) -> AsyncIterator[bytes]:
    """``tail -F``: the last ``lines`` lines, then whatever is appended, across rotations,
    until ``running()`` turns false and nothing more is written."""
    yield tail(path, lines)
    handle, inode = _open_at_end(path)
    try:
        while True:
            data = handle.read(CHUNK) if handle else b""
            if data:
                yield data
                continue
            if not running():
                return
            await asyncio.sleep(poll_s)
            now = _inode(path)
            if now != inode:  # rotated or created: read the rest of the old, then the new
                rest = handle.read() if handle else b""
                if rest:
                    yield rest
                if handle:
                    handle.close()
                handle, inode = (path.open("rb"), now) if now else (None, None)
    finally:
        if handle:
            handle.close()


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _open_at_end(path: Path) -> tuple[IO[bytes] | None, int | None]:
    try:
        handle = path.open("rb")
    except OSError:
        return None, None
    handle.seek(0, os.SEEK_END)
    return handle, os.fstat(handle.fileno()).st_ino
