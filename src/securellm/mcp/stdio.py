"""stdio with JSON-RPC errors for bad frames, around the SDK's own stdio transport.

The SDK's ``stdio_server`` decodes stdin with ``errors="replace"`` and drops a line that
does not parse (the exception goes to the session, which only logs it), so a client that sent
a broken frame waits for its own timeout. Here every line is checked before the SDK sees it:

- not JSON → ``-32700`` Parse error, ``id`` null;
- not UTF-8, or a ``\\ud800``-style lone surrogate → ``-32602`` Invalid params, with the
  request's ``id`` when it can still be read;
- not a JSON-RPC object (``[]``, ``42``, no ``jsonrpc``) → ``-32600`` Invalid Request;

then the server reads the next line. Good lines go to the SDK unchanged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, BinaryIO, cast

import anyio
import anyio.from_thread
import mcp_types as types
import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
Report = Callable[[types.JSONRPCError], None]


def check_frame(raw: bytes) -> types.JSONRPCError | None:
    """The error to answer a stdin line with, or None when the SDK can have it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _error(_lenient_id(raw), INVALID_PARAMS, "Invalid params: the frame is not UTF-8")
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            message = json.loads(text)
        except ValueError:
            return _error(None, PARSE_ERROR, "Parse error: the frame is not JSON")
        # orjson refuses what json accepts only for lone surrogates (\ud800 escapes).
        detail = "Invalid params: a string holds a lone surrogate, not UTF-8 text"
        return _error(_id_of(message), INVALID_PARAMS, detail)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        detail = "Invalid Request: expected a JSON-RPC 2.0 object"
        return _error(_id_of(message), INVALID_REQUEST, detail)
    return None


def _error(request_id: int | str | None, code: int, message: str) -> types.JSONRPCError:
    error = types.ErrorData(code=code, message=message)
    return types.JSONRPCError(jsonrpc="2.0", id=request_id, error=error)


def _id_of(message: Any) -> int | str | None:
    value = message.get("id") if isinstance(message, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return value if isinstance(value, int) else value.encode("utf-8", "replace").decode()


def _lenient_id(raw: bytes) -> int | str | None:
    try:
        return _id_of(json.loads(raw.decode("utf-8", "replace")))
    except ValueError:
        return None


class CheckedLines:
    """A text stream for the SDK's reader: good lines pass, bad ones are answered."""

    def __init__(self, source: BinaryIO, report: Report) -> None:
        self._source = source
        self._report = report

    def readline(self) -> str:
        """Runs in a worker thread (``anyio.wrap_file``); ``""`` at end of input."""
        while True:
            raw = self._source.readline()
            if not raw:
                return ""
            if not raw.strip():
                continue
            error = check_frame(raw.strip())
            if error is None:
                return raw.decode("utf-8")
            self._report(error)

    def __iter__(self) -> Iterator[str]:
        return iter(self.readline, "")


@contextmanager
def claimed_stdin() -> Iterator[BinaryIO]:
    """The wire on a private descriptor while fd 0 reads /dev/null (as the SDK does), so a
    child process or stray ``input()`` never eats a frame."""
    private = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        # closefd=False: a worker thread may still block on it after the server stops.
        yield os.fdopen(private, "rb", closefd=False)
    finally:
        os.dup2(private, 0)


async def run_stdio(server: MCPServer[Any]) -> None:
    """``server.run_stdio_async()``, with bad frames answered instead of dropped."""
    send, receive = anyio.create_memory_object_stream[types.JSONRPCError](64)

    def report(error: types.JSONRPCError) -> None:
        anyio.from_thread.run(send.send, error)

    with claimed_stdin() as wire:
        lines = anyio.wrap_file(cast("IO[str]", CheckedLines(wire, report)))
        async with (
            stdio_server(stdin=lines) as (read_stream, write_stream),
            anyio.create_task_group() as group,
        ):

            async def answer_bad_frames() -> None:
                async for error in receive:
                    await write_stream.send(SessionMessage(error))

            group.start_soon(answer_bad_frames)
            # What MCPServer.run_stdio_async does, on our streams.
            lowlevel = server._lowlevel_server
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
            group.cancel_scope.cancel()
