"""Build mode is a transaction: a failed ``systemctl`` step undoes every step already done.

``systemctl`` is a fake script on PATH (systemd cannot run here) that records its argv and
fails for one unit; the model server is the real llama.cpp-based server with a tiny model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from securellm.core.config import Settings
from securellm.offload.errors import ModePermissionError, ModeStepFailed
from securellm.offload.gpu import SimulatedGpu, VramMonitor
from securellm.offload.modes import ModeManager
from securellm.offload.service import OffloadService
from support.require import missing

from .conftest import write_loadable_llama

UNITS = ["first.service", "second.service", "third.service"]


def _systemctl(folder: Path, log: Path, fail_unit: str, code: int = 1, message: str = "") -> None:
    """A systemctl that logs ``action unit`` and exits ``code`` for ``fail_unit``."""
    folder.mkdir(exist_ok=True)
    script = folder / "systemctl"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$1 $2" >> {log}\n'
        f'if [ "$2" = "{fail_unit}" ]; then echo "{message or "Job failed"}" >&2; exit {code}; fi\n'
    )
    script.chmod(0o755)


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    return tmp_path / "systemctl.log"


def _manager(make_settings: Callable[..., Settings]) -> ModeManager:
    settings = make_settings(gpu_units=UNITS, build_mode_wait_s=0)
    return ModeManager(settings.offload, VramMonitor(SimulatedGpu(1000)))


async def test_a_failed_stop_starts_the_stopped_units_again(
    tmp_path: Path, log: Path, make_settings: Callable[..., Settings]
) -> None:
    _systemctl(tmp_path / "bin", log, fail_unit="third.service")
    manager = _manager(make_settings)
    with pytest.raises(ModeStepFailed, match=r"stop third\.service failed \(exit 1\)"):
        await manager.build()
    assert log.read_text().splitlines() == [
        "stop first.service",
        "stop second.service",
        "stop third.service",
        "start second.service",
        "start first.service",
    ]


async def test_a_failed_stop_leaves_the_mode_local(
    tmp_path: Path, log: Path, make_settings: Callable[..., Settings]
) -> None:
    _systemctl(tmp_path / "bin", log, fail_unit="second.service")
    manager = _manager(make_settings)
    with pytest.raises(ModeStepFailed):
        await manager.build()
    assert manager.mode == "local"


async def test_a_denied_stop_is_undone_and_named(
    tmp_path: Path, log: Path, make_settings: Callable[..., Settings]
) -> None:
    _systemctl(tmp_path / "bin", log, "second.service", 4, "Access denied")
    manager = _manager(make_settings)
    with pytest.raises(ModePermissionError, match=r"not allowed to stop second\.service.*undone"):
        await manager.build()
    assert log.read_text().splitlines()[-1] == "start first.service"


async def test_a_unit_that_is_not_installed_is_skipped(
    tmp_path: Path, log: Path, make_settings: Callable[..., Settings]
) -> None:
    _systemctl(tmp_path / "bin", log, "second.service", 5, "Unit second.service not loaded.")
    report = await _manager(make_settings).build()
    assert report.units == {
        "first.service": "ok",
        "second.service": "not installed",
        "third.service": "ok",
    }


async def test_a_failed_start_in_local_mode_still_serves_and_names_the_unit(
    tmp_path: Path, log: Path, make_settings: Callable[..., Settings]
) -> None:
    _systemctl(tmp_path / "bin", log, fail_unit="second.service")
    manager = _manager(make_settings)
    manager.mode = "build"
    with pytest.raises(ModeStepFailed, match=r"mode is local, but start second\.service failed"):
        await manager.local()
    mode: str = manager.mode
    assert mode == "local"
    assert log.read_text().splitlines() == [f"start {unit}" for unit in UNITS]


@pytest.fixture
async def service(
    tmp_path: Path, log: Path, make_settings: Callable[..., Settings]
) -> AsyncIterator[OffloadService]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    (tmp_path / "models").mkdir()
    write_loadable_llama(tmp_path / "models" / "tiny-llama-F16.gguf")
    settings = make_settings(
        model_dirs=[str(tmp_path / "models")],
        gpu_units=UNITS,
        build_mode_wait_s=0,
        simulated_vram_mib=4096,
        default_ctx=256,
    )
    service = OffloadService.create(settings)
    await service.scan()
    try:
        yield service
    finally:
        await service.close()


@pytest.mark.llama
async def test_a_failed_build_reloads_the_models_it_unloaded(
    tmp_path: Path, log: Path, service: OffloadService
) -> None:
    _systemctl(tmp_path / "bin", log, fail_unit="second.service")
    await service.scheduler.load("tiny-llama")
    with pytest.raises(ModeStepFailed, match="reloaded tiny-llama"):
        await service.modes.build()
    assert [s.model_id for s in service.scheduler.slots()] == ["tiny-llama"]
    assert (service.modes.mode, service.scheduler.frozen) == ("local", False)
