"""GPU modes with a fake ``systemctl`` on PATH (a script the test writes, recording its argv)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from securellm.core.config import Settings
from securellm.offload.errors import ModePermissionError, ModeUnavailable
from securellm.offload.gpu import SimulatedGpu, VramMonitor
from securellm.offload.modes import ModeManager


def _fake_systemctl(folder: Path, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    script = folder / "systemctl"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    return tmp_path / "bin"


async def test_build_mode_stops_each_unit_by_argv(
    tmp_path: Path, on_path: Path, make_settings: Callable[..., Settings]
) -> None:
    _fake_systemctl(on_path, f'echo "$@" >> {tmp_path / "argv.log"}\n')
    settings = make_settings(gpu_units=["llamacpp.service", "a b.service"], build_mode_wait_s=0)
    manager = ModeManager(settings.offload, VramMonitor(SimulatedGpu(1000)))
    report = await manager.build()
    assert (tmp_path / "argv.log").read_text().splitlines() == [
        "stop llamacpp.service",
        "stop a b.service",
    ]
    assert report.units == {"llamacpp.service": "ok", "a b.service": "ok"}
    assert manager.mode == "build"


async def test_build_mode_reports_memory_still_held(
    tmp_path: Path, on_path: Path, make_settings: Callable[..., Settings]
) -> None:
    _fake_systemctl(on_path, "exit 0\n")
    gpu = SimulatedGpu(1000)
    gpu.account("someone else", 700)
    settings = make_settings(build_mode_threshold_mib=512, build_mode_wait_s=0)
    report = await ModeManager(settings.offload, VramMonitor(gpu)).build()
    assert (report.used_mib, report.below_threshold) == (700, False)


async def test_permission_denied_is_a_clear_refusal(
    on_path: Path, make_settings: Callable[..., Settings]
) -> None:
    _fake_systemctl(
        on_path,
        'echo "Failed to stop llamacpp.service: Access denied" >&2\nexit 4\n',
    )
    manager = ModeManager(make_settings().offload, VramMonitor(SimulatedGpu(1000)))
    with pytest.raises(ModePermissionError, match=r"not allowed to stop llamacpp\.service"):
        await manager.build()


async def test_local_mode_starts_the_units_again(
    tmp_path: Path, on_path: Path, make_settings: Callable[..., Settings]
) -> None:
    _fake_systemctl(on_path, f'echo "$@" >> {tmp_path / "argv.log"}\n')
    manager = ModeManager(make_settings().offload, VramMonitor(SimulatedGpu(1000)))
    report = await manager.local()
    assert report.mode == "local"
    assert (tmp_path / "argv.log").read_text().splitlines() == [
        "start llamacpp.service",
        "start ollama.service",
    ]


async def test_a_missing_systemctl_is_503_not_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    manager = ModeManager(make_settings().offload, VramMonitor(SimulatedGpu(1000)))
    with pytest.raises(ModeUnavailable, match="cannot run 'systemctl'") as caught:
        await manager.build()
    assert caught.value.status == 503
