"""GPU modes: ``build`` frees the GPU for compiling (CUDA builds), ``local`` gives it back.

Build mode unloads every model, stops the configured systemd units (``systemctl`` by argv,
never a shell), waits until VRAM use drops below a threshold, and reports what still holds
memory. It is a transaction: when a step fails, the units already stopped are started again,
the models reloaded and the mode stays ``local``; the error names the failed unit. A unit
that is not installed (systemctl exit 5) is skipped. Local mode lets the scheduler load
models at once, then starts the units again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from securellm.core.config import OffloadSettings
from securellm.offload.errors import (
    BadRequest,
    ModePermissionError,
    ModeStepFailed,
    ModeUnavailable,
    OffloadError,
)
from securellm.offload.gpu.base import VramMonitor
from securellm.offload.scheduler import Scheduler

log = logging.getLogger(__name__)

Mode = Literal["local", "build"]
_NO_SUCH_UNIT = 5  # systemctl's exit code for a unit that is not installed
_DENIED = (
    "access denied",
    "interactive authentication required",
    "permission denied",
    "not permitted",
)


@dataclass
class ModeReport:
    """What a mode switch did and what still holds GPU memory."""

    mode: Mode
    unloaded: list[str] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)
    used_mib: int | None = None
    threshold_mib: int | None = None
    below_threshold: bool | None = None
    holders: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def systemctl(binary: str, action: str, unit: str) -> tuple[int, str]:
    """Run ``systemctl <action> <unit>``; return (exit code, stderr)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            binary,
            action,
            unit,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ModeUnavailable(f"cannot run {binary!r}: {exc.strerror or exc}") from exc
    _, stderr = await proc.communicate()
    return proc.returncode or 0, stderr.decode("utf-8", "replace").strip()


class ModeManager:
    """Switches modes; without a scheduler (the CLI with no server running) it only does units."""

    def __init__(
        self,
        settings: OffloadSettings,
        monitor: VramMonitor,
        scheduler: Scheduler | None = None,
    ) -> None:
        self._settings = settings
        self._monitor = monitor
        self._scheduler = scheduler
        self.mode: Mode = "local"

    async def _unit(self, action: str, unit: str) -> str:
        """Run one step; "ok" or "not installed", else raise naming the unit."""
        code, stderr = await systemctl(self._settings.systemctl, action, unit)
        if code == 0:
            return "ok"
        if code == 4 or any(d in stderr.lower() for d in _DENIED):
            raise ModePermissionError(
                f"not allowed to {action} {unit}: {stderr or f'exit code {code}'}; run as root "
                "or grant this user the right through polkit/sudo"
            )
        if code == _NO_SUCH_UNIT or "not loaded" in stderr.lower() or "not found" in stderr.lower():
            return "not installed"
        raise ModeStepFailed(f"{action} {unit} failed (exit {code}): {stderr[:200]}")

    async def build(self) -> ModeReport:
        """Unload, stop every unit, wait for VRAM to drop; on any failure undo it all."""
        report = ModeReport(mode="build", threshold_mib=self._settings.build_mode_threshold_mib)
        stopped: list[str] = []
        try:
            if self._scheduler is not None:
                self._scheduler.frozen = True
                drain = self._settings.busy_wait_s
                report.unloaded = await self._scheduler.unload_all(drain_s=drain)
            for unit in self._settings.gpu_units:
                report.units[unit] = await self._unit("stop", unit)
                if report.units[unit] == "ok":
                    stopped.append(unit)
        except (ModePermissionError, ModeStepFailed, ModeUnavailable) as exc:
            undone = await self._undo_build(stopped, report.unloaded)
            raise type(exc)(f"{exc}; {undone}; mode stays local") from exc
        self.mode = "build"
        await self._wait_below(report)
        return report

    async def _undo_build(self, stopped: list[str], unloaded: list[str]) -> str:
        """Start the stopped units again (last first), thaw, reload; says what it undid."""
        undone: list[str] = []
        for unit in reversed(stopped):
            try:
                await self._unit("start", unit)
                undone.append(f"started {unit} again")
            except OffloadError as exc:
                undone.append(f"could not start {unit} again ({exc})")
        self.mode = "local"
        if self._scheduler is not None:
            self._scheduler.frozen = False
            undone.extend(await self._reload(unloaded))
        return "undone: " + (", ".join(undone) or "nothing had changed")

    async def _reload(self, models: list[str]) -> list[str]:
        assert self._scheduler is not None
        done = []
        for model in models:
            try:
                await self._scheduler.load(model)
                done.append(f"reloaded {model}")
            except OffloadError as exc:
                log.warning("could not reload %s after a failed build mode: %s", model, exc)
                done.append(f"could not reload {model}")
        return done

    async def _wait_below(self, report: ModeReport) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.build_mode_wait_s
        threshold = self._settings.build_mode_threshold_mib
        while True:
            self._monitor.invalidate()
            reading = self._monitor.read()
            report.used_mib = reading.used_mib
            report.below_threshold = reading.used_mib <= threshold
            report.holders = [
                {"pid": p.pid, "name": p.name, "used_mib": p.used_mib, "gpu": p.gpu_index}
                for p in reading.processes
            ]
            if report.below_threshold or loop.time() >= deadline:
                return
            await asyncio.sleep(0.5)

    async def local(self) -> ModeReport:
        """Serve models again at once, then start every unit; a failed start is reported."""
        report = ModeReport(mode="local")
        self.mode = "local"
        if self._scheduler is not None:
            self._scheduler.frozen = False
        failed: list[str] = []
        for unit in self._settings.gpu_units:
            try:
                report.units[unit] = await self._unit("start", unit)
            except (ModePermissionError, ModeStepFailed) as exc:
                report.units[unit] = f"failed: {exc}"
                failed.append(str(exc))
        if failed:
            raise ModeStepFailed(f"mode is local, but {'; '.join(failed)}")
        self._monitor.invalidate()
        report.used_mib = self._monitor.read().used_mib
        return report

    async def switch(self, mode: str) -> ModeReport:
        if mode == "build":
            return await self.build()
        if mode == "local":
            return await self.local()
        raise BadRequest(f"unknown mode {mode!r}; use 'build' or 'local'")
