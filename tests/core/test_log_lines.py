"""LineWriter: whole lines to a pipe, queued (in order, bounded) while the pipe is full."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator

import orjson
import pytest
import uvloop

from securellm.core.log_lines import LineWriter


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        with contextlib.suppress(OSError):
            os.close(fd)


def fill(write_fd: int) -> int:
    """Fill the pipe until a write would block; returns the bytes written."""
    os.set_blocking(write_fd, False)
    written = 0
    try:
        while True:
            written += os.write(write_fd, b"x" * 4096)
    except BlockingIOError:
        pass
    finally:
        os.set_blocking(write_fd, True)
    return written


def drain(read_fd: int, size: int) -> bytes:
    chunks = b""
    while len(chunks) < size:
        chunks += os.read(read_fd, size - len(chunks))
    return chunks


async def until_flushed(writer: LineWriter) -> None:
    while writer.pending:
        await asyncio.sleep(0.01)


def test_a_line_goes_out_whole_when_the_pipe_has_room(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    writer = LineWriter(write_fd)
    writer.write(b'{"a":1}\n')
    assert os.read(read_fd, 100) == b'{"a":1}\n'


def test_a_line_waits_in_memory_while_the_pipe_is_full_then_arrives(
    pipe: tuple[int, int],
) -> None:
    read_fd, write_fd = pipe
    filled = fill(write_fd)

    async def scenario() -> bytes:
        writer = LineWriter(write_fd)
        writer.write(b"late\n")  # returns at once: the pipe is full
        assert writer.pending == 1
        drain(read_fd, filled)
        await until_flushed(writer)
        return os.read(read_fd, 100)

    assert uvloop.run(scenario()) == b"late\n"


def test_queued_lines_keep_their_order(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    filled = fill(write_fd)

    async def scenario() -> bytes:
        writer = LineWriter(write_fd)
        for n in range(5):
            writer.write(b"%d\n" % n)
        drain(read_fd, filled)
        await until_flushed(writer)
        return drain(read_fd, 10)

    assert uvloop.run(scenario()) == b"0\n1\n2\n3\n4\n"


def test_past_max_pending_the_oldest_lines_are_dropped_and_counted(
    pipe: tuple[int, int],
) -> None:
    read_fd, write_fd = pipe
    filled = fill(write_fd)

    async def scenario() -> list[bytes]:
        writer = LineWriter(write_fd, max_pending=2)
        for n in range(5):
            writer.write(b"%d\n" % n)
        drain(read_fd, filled)
        await until_flushed(writer)
        return os.read(read_fd, 1000).splitlines()

    notice, *kept = uvloop.run(scenario())
    assert orjson.loads(notice)["message"] == "3 log lines dropped"
    assert kept == [b"3", b"4"]


def test_a_reader_that_has_gone_costs_the_line_not_an_error(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    os.close(read_fd)
    writer = LineWriter(write_fd)
    writer.write(b"nobody reads this\n")
    assert writer.dropped == 1
