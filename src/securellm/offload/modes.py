"""GPU modes: ``build`` frees the GPU for compiling (CUDA builds), ``local`` gives it back.

Build mode unloads every model, stops the configured systemd units (``systemctl`` by argv,
never a shell), waits until VRAM use drops below a threshold, and reports what still holds
memory. Local mode starts the units again and lets the scheduler load models.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from securellm.core.config import OffloadSettings
from securellm.offload.errors import BadRequest, ModePermissionError, ModeUnavailable
from securellm.offload.gpu.base import VramMonitor
from securellm.offload.scheduler import Scheduler

log = logging.getLogger(__name__)

Mode = Literal["local", "build"]
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

    async def _units(self, action: str, units: Sequence[str]) -> dict[str, str]:
        done: dict[str, str] = {}
        for unit in units:
            code, stderr = await systemctl(self._settings.systemctl, action, unit)
            if code != 0 and (code == 4 or any(d in stderr.lower() for d in _DENIED)):
                raise ModePermissionError(
                    f"not allowed to {action} {unit}: {stderr or f'exit code {code}'}; run as root "
                    "or grant this user the right through polkit/sudo"
                )
            done[unit] = "ok" if code == 0 else f"failed (exit {code}): {stderr[:200]}"
        return done

    async def build(self) -> ModeReport:
        report = ModeReport(mode="build", threshold_mib=self._settings.build_mode_threshold_mib)
        if self._scheduler is not None:
            self._scheduler.frozen = True
            report.unloaded = await self._scheduler.unload_all(drain_s=self._settings.busy_wait_s)
        self.mode = "build"
        report.units = await self._units("stop", self._settings.gpu_units)
        await self._wait_below(report)
        return report

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
        report = ModeReport(mode="local")
        report.units = await self._units("start", self._settings.gpu_units)
        self.mode = "local"
        if self._scheduler is not None:
            self._scheduler.frozen = False
        self._monitor.invalidate()
        report.used_mib = self._monitor.read().used_mib
        return report

    async def switch(self, mode: str) -> ModeReport:
        if mode == "build":
            return await self.build()
        if mode == "local":
            return await self.local()
        raise BadRequest(f"unknown mode {mode!r}; use 'build' or 'local'")
