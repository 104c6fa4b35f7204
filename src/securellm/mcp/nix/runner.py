"""Run ``nix`` as an async subprocess: argv list only, a timeout that kills, capped output.

The process gets its own process group so a timeout or a cancelled request kills ``nix``
and whatever it spawned. While one command runs, the event loop stays free. Before the
first command the runner asks ``nix show-config`` what kind of install it talks to
(:mod:`securellm.mcp.nix.install`) and adds the options a single-user install needs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import ByteReceiveStream, Process

from securellm.mcp.errors import NixCommandError, NixUnavailableError
from securellm.mcp.nix import install

log = logging.getLogger(__name__)

EXPERIMENTAL = ("--extra-experimental-features", "nix-command flakes")
DETECT_TIMEOUT_S = 30.0
DETECT_MAX_OUTPUT = 4_000_000
LineCallback = Callable[[str], Awaitable[None]]
Inspector = Callable[[str, str], install.NixInstall]


@dataclass(frozen=True)
class NixResult:
    """What one ``nix`` invocation produced."""

    returncode: int
    stdout: str
    stderr_tail: str
    duration_s: float


class _Capture:
    """Collects a stream up to ``limit`` bytes; remembers whether it overflowed."""

    def __init__(self, limit: int, keep_tail: bool) -> None:
        self.limit = limit
        self.keep_tail = keep_tail
        self.data = bytearray()
        self.overflowed = False

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.limit:
            self.overflowed = True
            if self.keep_tail:
                del self.data[: len(self.data) - self.limit]
            else:
                del self.data[self.limit :]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class NixRunner:
    """Knows where ``nix`` is and how to call it safely."""

    def __init__(
        self,
        binary: str = "nix",
        *,
        extra_options: Sequence[str] = (),
        build_users_group: str | None = None,
        max_output_bytes: int = 1_000_000,
        stderr_tail_bytes: int = 4000,
        grace_s: float = 5.0,
        inspect: Inspector = install.inspect,
    ) -> None:
        self._binary = binary
        self._inspect_install = inspect
        self._extra = tuple(extra_options)
        self._max_output = max_output_bytes
        self._tail = stderr_tail_bytes
        self._grace_s = grace_s
        self._install: tuple[str, ...] | None = None
        if build_users_group is not None:
            self._install = ("--option", "build-users-group", build_users_group)
        self._install_lock = anyio.Lock()

    def executable(self) -> str:
        path = shutil.which(self._binary)
        if path is None:
            raise NixUnavailableError(
                f"'{self._binary}' is not on PATH: install Nix (or Debian's nix-bin) to use the "
                "nix_* tools"
            )
        return path

    def argv(self, args: Sequence[str]) -> list[str]:
        """The full command line. The install's options come last: they were derived from
        the settings ``extra_options`` make, and only ever repair a group that is missing."""
        return [self.executable(), *EXPERIMENTAL, *self._extra, *(self._install or ()), *args]

    async def install_options(self) -> tuple[str, ...]:
        """The options this Nix install needs, detected once (see :mod:`.install`).

        Raises :class:`NixUnavailableError` when this user cannot use the store at all;
        that answer is not remembered, so starting a daemon later is noticed.
        """
        async with self._install_lock:
            if self._install is None:
                found = await self._inspect()
                problem = found.problem()
                if problem is not None:
                    raise NixUnavailableError(problem)
                self._install = tuple(found.options())
                if self._install:
                    log.info("nix: single-user install, building as this user")
            return self._install

    async def _inspect(self) -> install.NixInstall:
        argv = [self.executable(), *EXPERIMENTAL, *self._extra, "show-config", "--json"]
        try:
            result = await self._exec(
                argv, "show-config", DETECT_TIMEOUT_S, None, DETECT_MAX_OUTPUT
            )
            text = result.stdout if result.returncode == 0 else ""
        except NixCommandError:
            text = ""
        group, store = install.parse_config(text)
        return await anyio.to_thread.run_sync(self._inspect_install, group, store)

    async def run(
        self, args: Sequence[str], *, timeout_s: float, on_stderr_line: LineCallback | None = None
    ) -> NixResult:
        """Run ``nix <args>``; raise :class:`NixCommandError` on timeout or oversized output."""
        await self.install_options()
        log.info("nix start", extra={"nix_args": list(args)})
        label = args[0] if args else ""
        result = await self._exec(
            self.argv(args), label, timeout_s, on_stderr_line, self._max_output
        )
        log.info(
            "nix done",
            extra={
                "nix_args": list(args),
                "rc": result.returncode,
                "duration_s": result.duration_s,
            },
        )
        return result

    async def _exec(
        self,
        argv: list[str],
        label: str,
        timeout_s: float,
        on_stderr_line: LineCallback | None,
        max_output: int,
    ) -> NixResult:
        started = time.monotonic()
        out = _Capture(max_output, keep_tail=False)
        err = _Capture(self._tail, keep_tail=True)
        process = await anyio.open_process(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            with anyio.fail_after(timeout_s):
                async with anyio.create_task_group() as group:
                    group.start_soon(_pump, process.stdout, out, None, process)
                    group.start_soon(_pump, process.stderr, err, on_stderr_line, process)
                returncode = await process.wait()
        except TimeoutError:
            raise NixCommandError(
                f"nix {label} timed out after {timeout_s:g}s and was killed"
            ) from None
        finally:
            with anyio.CancelScope(shield=True):
                await _stop(process, self._grace_s)
                await process.aclose()
        duration = time.monotonic() - started
        if out.overflowed:
            raise NixCommandError(f"nix printed more than {max_output} bytes; output refused")
        return NixResult(returncode, out.text(), err.text(), duration)


async def _pump(
    stream: ByteReceiveStream | None,
    capture: _Capture,
    on_line: LineCallback | None,
    process: Process,
) -> None:
    if stream is None:
        return
    pending = b""
    async for chunk in stream:
        capture.add(chunk)
        if capture.overflowed and not capture.keep_tail:
            _kill_group(process, signal.SIGINT)
            return
        if on_line is not None:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    await on_line(line.decode("utf-8", errors="replace"))


def _kill_group(process: Process, sig: int = signal.SIGKILL) -> None:
    """Signal ``nix`` and its process group; harmless when they have already exited."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


async def _stop(process: Process, grace_s: float) -> None:
    """Interrupt ``nix`` so it stops its builders (they run in their own sessions, often as
    nixbld users), then kill it if it has not exited after ``grace_s``."""
    if process.returncode is not None:
        return
    _kill_group(process, signal.SIGINT)
    with anyio.move_on_after(grace_s):
        await process.wait()
        return
    log.warning("nix ignored SIGINT; killing it", extra={"pid": process.pid})
    _kill_group(process)
