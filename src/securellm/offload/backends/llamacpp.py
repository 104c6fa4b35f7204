"""One llama.cpp-based server process per model, from a configurable argv template."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
from pathlib import Path

import aiohttp

from securellm.offload.backends.base import Lifecycle, ServerState
from securellm.offload.calibrate import parse_buffers
from securellm.offload.errors import BackendError, LoadTimeout
from securellm.offload.estimate import Buffers
from securellm.offload.logs import BoundedLog, pump
from securellm.offload.ownership import Ownership, die_with_parent

log = logging.getLogger(__name__)


def render_command(template: tuple[str, ...], values: dict[str, str]) -> list[str]:
    """Fill ``{python}``, ``{model}``, ``{port}``, ``{ctx}``, ``{ngl}``; argv stays a list."""
    argv = []
    for part in template:
        for name, value in values.items():
            part = part.replace("{" + name + "}", value)
        argv.append(part)
    return argv


class LlamaCppServer:
    """Spawns the server, waits for its health URL, keeps its log, stops it cleanly."""

    kind = "llamacpp"

    def __init__(
        self,
        model_id: str,
        argv: list[str],
        port: int,
        log_path: Path,
        session: aiohttp.ClientSession,
        *,
        health_path: str = "/v1/models",
        load_timeout_s: float = 120.0,
        stop_timeout_s: float = 10.0,
        ownership: Ownership | None = None,
        die_with_offload: bool = True,
        log_max_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.model_id = model_id
        self.upstream_model = model_id
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self._argv = argv
        self._log_path = log_path
        self._session = session
        self._health_url = f"http://127.0.0.1:{port}{health_path}"
        self._load_timeout_s = load_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._life = Lifecycle()
        self._ownership = ownership
        self._preexec = die_with_parent() if die_with_offload else None
        self._proc: asyncio.subprocess.Process | None = None
        self._log_max_bytes = log_max_bytes
        self._log: BoundedLog | None = None
        self._pump: asyncio.Task[None] | None = None

    @property
    def state(self) -> ServerState:
        proc = self._proc
        if self._life.state is ServerState.READY and proc and proc.returncode is not None:
            self._life.move(ServerState.FAILED)  # the process died under us
        return self._life.state

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def start(self) -> None:
        self._life.move(ServerState.STARTING)
        self._log = BoundedLog(self._log_path, self._log_max_bytes)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=self._preexec,
            )
        except OSError as exc:
            self._life.move(ServerState.FAILED)
            await self._close_log()
            raise BackendError(f"cannot start {self._argv[0]!r}: {exc.strerror or exc}") from exc
        assert self._proc.stdout is not None
        self._pump = asyncio.create_task(pump(self._proc.stdout, self._log), name="server log")
        if self._ownership is not None:
            self._ownership.record(self._proc.pid, self.port, self.model_id, self._argv)
        await self._wait_healthy()
        self._life.move(ServerState.READY)

    async def _wait_healthy(self) -> None:
        assert self._proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._load_timeout_s
        while True:
            if self._proc.returncode is not None:
                await self._fail()
                raise BackendError(
                    f"model server for {self.model_id} exited with code {self._proc.returncode}: "
                    f"{self.log_tail()}"
                )
            if await self._healthy():
                return
            if loop.time() > deadline:
                await self._fail()
                raise LoadTimeout(
                    f"model server for {self.model_id} was not healthy after "
                    f"{self._load_timeout_s:g} s"
                )
            await asyncio.sleep(0.1)

    async def _healthy(self) -> bool:
        try:
            timeout = aiohttp.ClientTimeout(total=2)
            async with self._session.get(self._health_url, timeout=timeout) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _fail(self) -> None:
        self._life.move(ServerState.FAILED)
        await self._terminate()
        self._life.move(ServerState.STOPPED)

    async def stop(self) -> None:
        if self._life.state in (ServerState.STOPPED, ServerState.STOPPING):
            return
        self._life.move(ServerState.STOPPING)
        await self._terminate()
        self._life.move(ServerState.STOPPED)

    async def _terminate(self) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), self._stop_timeout_s)
            except TimeoutError:
                log.warning("model server %s ignored SIGTERM; killing it", self.model_id)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if proc is not None and self._ownership is not None:
            self._ownership.forget(proc.pid)
        await self._close_log()

    async def _close_log(self) -> None:
        if self._pump is not None:
            with contextlib.suppress(Exception):  # the output is read to its end first
                await asyncio.wait_for(self._pump, 5)
            self._pump = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        try:
            return self._log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 5) -> str:
        tail = [line for line in self.log_text().splitlines() if line.strip()][-lines:]
        return " | ".join(tail)[-600:] or "(no output)"

    def buffers(self) -> Buffers | None:
        return parse_buffers(self.log_text())

    async def measured_vram_mib(self) -> int | None:
        measured = self.buffers()
        return round(measured.total) if measured else None
