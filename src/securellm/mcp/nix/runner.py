"""Run ``nix`` as an async subprocess: argv list only, a timeout that kills, capped output.

The process gets its own process group so a timeout or a cancelled request kills ``nix``
and whatever it spawned. While one command runs, the event loop stays free. Before the
first command the runner asks ``nix show-config`` what kind of install it talks to
(:mod:`securellm.mcp.nix.install`) and adds the options a single-user install needs.
A command given an :class:`~securellm.mcp.nix.isolate.Isolation` runs inside its bubblewrap
view; :meth:`NixRunner.realise` builds store derivations outside it, with Nix's own sandbox.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import ByteReceiveStream, Process

from securellm.mcp.errors import NixCommandError, NixUnavailableError
from securellm.mcp.nix import install
from securellm.mcp.nix.isolate import Isolation

log = logging.getLogger(__name__)

EXPERIMENTAL = ("--extra-experimental-features", "nix-command flakes")
DETECT_TIMEOUT_S = 30.0
DETECT_MAX_OUTPUT = 4_000_000
LineCallback = Callable[[str], Awaitable[None]]
Inspector = Callable[[str, str], install.NixInstall]
# Nix 2.13 added `drv^*` (all outputs); from 2.15 a bare `.drv` names the file, not its outputs.
ALL_OUTPUTS_SINCE = (2, 13)
_VERSION = re.compile(r"(\d+)\.(\d+)")
_DRV_PATH = re.compile(r"^/[A-Za-z0-9._+/-]*/[0-9a-z]{32}-[A-Za-z0-9._+?=-]+\.drv$")


@dataclass(frozen=True)
class NixFacts:
    """What ``nix --version`` and ``nix show-config`` say, asked once."""

    version: tuple[int, int]
    system: str

    def installable(self, drv_path: str) -> str:
        """The installable that builds every output of a store derivation."""
        return f"{drv_path}^*" if self.version >= ALL_OUTPUTS_SINCE else drv_path


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
        self._facts: NixFacts | None = None
        self._facts_lock = anyio.Lock()

    def executable(self) -> str:
        path = shutil.which(self._binary)
        if path is None:
            raise NixUnavailableError(
                f"'{self._binary}' is not on PATH: install Nix (or Debian's nix-bin) to use the "
                "nix_* tools"
            )
        return path

    def argv(self, args: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """The full command line. The install's options come after ``extra_options``: they
        were derived from the settings those make, and only ever repair a missing group;
        ``options`` (the isolation's) come last."""
        install_options = self._install or ()
        return [self.executable(), *EXPERIMENTAL, *self._extra, *install_options, *options, *args]

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

    async def facts(self) -> NixFacts:
        """Nix's version and system, asked once (``nix --version``, ``nix show-config``)."""
        async with self._facts_lock:
            if self._facts is None:
                self._facts = await self._ask_facts()
            return self._facts

    async def _ask_facts(self) -> NixFacts:
        exe = self.executable()
        version = await self._exec([exe, "--version"], "--version", DETECT_TIMEOUT_S, None, 4096)
        found = _VERSION.search(version.stdout)
        numbers = (int(found[1]), int(found[2])) if found else ALL_OUTPUTS_SINCE
        config = await self._exec(
            [exe, *EXPERIMENTAL, *self._extra, "show-config", "--json"],
            "show-config",
            DETECT_TIMEOUT_S,
            None,
            DETECT_MAX_OUTPUT,
        )
        return NixFacts(numbers, _system(config.stdout if config.returncode == 0 else ""))

    async def run(
        self,
        args: Sequence[str],
        *,
        timeout_s: float,
        on_stderr_line: LineCallback | None = None,
        isolation: Isolation | None = None,
    ) -> NixResult:
        """Run ``nix <args>`` (inside ``isolation``'s view when given and enabled); raise
        :class:`NixCommandError` on timeout or oversized output."""
        self.executable()
        if isolation is not None and isolation.enabled:
            await isolation.ready()  # first: no nix process starts while bwrap cannot run
        await self.install_options()
        argv: list[str] = self.argv(args)
        env: Mapping[str, str] | None = None
        if isolation is not None:
            argv, env = await isolation.wrap(self.argv(args, isolation.nix_options()))
        log.info("nix start", extra={"nix_args": list(args), "isolated": env is not None})
        label = args[0] if args else ""
        result = await self._exec(argv, label, timeout_s, on_stderr_line, self._max_output, env)
        log.info(
            "nix done",
            extra={
                "nix_args": list(args),
                "rc": result.returncode,
                "duration_s": result.duration_s,
            },
        )
        return result

    async def realise(
        self,
        drv_paths: Sequence[str],
        *,
        timeout_s: float,
        on_stderr_line: LineCallback | None = None,
    ) -> NixResult:
        """Build every output of these store derivations, outside any view, in Nix's own
        build sandbox. A store derivation is fully determined: nothing outside the store is
        read to build it, as long as the sandbox runs, so ``sandbox-fallback`` is turned off:
        a kernel that refuses the sandbox fails the build instead of running the builder
        with this user's view of the machine (``sandbox = false`` set on purpose stays)."""
        facts = await self.facts()
        args = ["build", "--no-link", "--json", "-L", "--option", "sandbox-fallback", "false"]
        args += [facts.installable(path) for path in drv_paths]
        return await self.run(args, timeout_s=timeout_s, on_stderr_line=on_stderr_line)

    async def _exec(
        self,
        argv: list[str],
        label: str,
        timeout_s: float,
        on_stderr_line: LineCallback | None,
        max_output: int,
        env: Mapping[str, str] | None = None,
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
            env=env,
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


def _system(show_config: str) -> str:
    """Nix's ``system`` setting, or this machine's own name for it."""
    try:
        entry = json.loads(show_config).get("system")
    except (ValueError, AttributeError):
        entry = None
    value = entry.get("value") if isinstance(entry, dict) else None
    if isinstance(value, str) and value:
        return value
    return f"{platform.machine().lower()}-{platform.system().lower()}"


def drv_path(text: str) -> str:
    """``text`` as a store derivation's path; :class:`NixCommandError` when it is not one."""
    path = text.strip()
    if not _DRV_PATH.match(path):
        raise NixCommandError(f"nix printed {path[:200]!r} where a store derivation was expected")
    return path


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
