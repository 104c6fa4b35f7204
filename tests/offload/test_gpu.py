"""GPU readers: NVML (against recorded JSON), nvidia-smi CSV, the simulated GPU, the cache."""

from __future__ import annotations

import ctypes
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from securellm.core.config import OffloadSettings
from securellm.offload.errors import GpuError
from securellm.offload.gpu import SimulatedGpu, VramMonitor, build_reader
from securellm.offload.gpu.nvml import NvmlReader
from securellm.offload.gpu.smi import SmiReader, parse_gpus

FIXTURES = Path(__file__).parent / "fixtures"


class NVMLError(Exception):
    pass


class RecordedNvml:
    """The pynvml calls offload makes, answering from a recorded JSON fixture."""

    def __init__(self, fixture: str, fail: bool = False) -> None:
        self._gpus: list[dict[str, Any]] = json.loads((FIXTURES / fixture).read_text())["gpus"]
        self._fail = fail

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802 (pynvml's names)
        if self._fail:
            raise NVMLError("GPU is lost")
        return len(self._gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:  # noqa: N802
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:  # noqa: N802
        return str(self._gpus[handle]["name"]).encode()

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:  # noqa: N802
        return SimpleNamespace(**self._gpus[handle]["memory"])

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[SimpleNamespace]:  # noqa: N802
        return [SimpleNamespace(**p) for p in self._gpus[handle]["processes"]]


def test_nvml_reads_a_laptop_gpu(tmp_path: Path) -> None:
    reading = NvmlReader(RecordedNvml("nvml_rtx3050_laptop.json"), proc_root=tmp_path).read()
    [gpu] = reading.gpus
    assert (gpu.name, gpu.total_mib, gpu.used_mib, gpu.free_mib) == (
        "NVIDIA GeForce RTX 3050 6GB Laptop GPU",
        6144,
        1228,
        4915,
    )
    assert reading.source == "nvml"


def test_nvml_lists_processes_even_without_a_size(tmp_path: Path) -> None:
    (tmp_path / "2211").mkdir()
    (tmp_path / "2211" / "comm").write_text("llama-server\n")
    reading = NvmlReader(RecordedNvml("nvml_rtx3050_laptop.json"), proc_root=tmp_path).read()
    assert [(p.pid, p.name, p.used_mib) for p in reading.processes] == [
        (2211, "llama-server", 1024),
        (2377, "?", None),
    ]


def test_nvml_sums_several_gpus(tmp_path: Path) -> None:
    reading = NvmlReader(RecordedNvml("nvml_2x_a100.json"), proc_root=tmp_path).read()
    assert reading.total_mib == 2 * 81920
    assert [p.gpu_index for p in reading.processes] == [0]


def test_nvml_failure_becomes_gpu_error() -> None:
    with pytest.raises(GpuError, match="GPU is lost"):
        NvmlReader(RecordedNvml("nvml_2x_a100.json", fail=True)).read()


def test_nvidia_smi_output_is_parsed() -> None:
    outputs = {
        "--query-gpu": (FIXTURES / "smi_rtx4090_gpus.csv").read_text(),
        "--query-compute-apps": (FIXTURES / "smi_rtx4090_apps.csv").read_text(),
    }

    def run(argv: Any) -> str:
        return outputs[argv[1].split("=")[0]]

    reading = SmiReader(run=run).read()
    [gpu] = reading.gpus
    assert (gpu.name, gpu.total_mib, gpu.used_mib, gpu.free_mib) == (
        "NVIDIA GeForce RTX 4090",
        24564,
        9312,
        14912,
    )
    assert [(p.pid, p.used_mib) for p in reading.processes] == [(3141, 8704), (3300, None)]


def test_nvidia_smi_garbage_is_a_gpu_error() -> None:
    with pytest.raises(GpuError, match="unexpected nvidia-smi line"):
        parse_gpus("NVIDIA-SMI has failed because it couldn't communicate with the driver\n")


def test_simulated_gpu_accounts_what_is_loaded() -> None:
    gpu = SimulatedGpu(6144)
    gpu.account("a", 1000)
    gpu.account("b", 2000)
    gpu.release("a")
    reading = gpu.read()
    assert (reading.used_mib, reading.free_mib, reading.source) == (2000, 4144, "simulated")


def test_monitor_serves_cached_readings_until_invalidated() -> None:
    now = [0.0]
    gpu = SimulatedGpu(1000)
    monitor = VramMonitor(gpu, ttl_s=10, clock=lambda: now[0])
    assert monitor.read().used_mib == 0
    gpu.account("a", 500)
    assert monitor.read().used_mib == 0
    monitor.invalidate()
    assert monitor.read().used_mib == 500


def test_monitor_refreshes_after_its_ttl() -> None:
    now = [0.0]
    gpu = SimulatedGpu(1000)
    monitor = VramMonitor(gpu, ttl_s=1, clock=lambda: now[0])
    monitor.read()
    gpu.account("a", 500)
    now[0] = 1.5
    assert monitor.read().used_mib == 500


def test_auto_falls_back_to_simulated_without_a_gpu() -> None:
    reader = build_reader(OffloadSettings(gpu="auto", simulated_vram_mib=1234))
    if reader.source != "simulated":
        pytest.skip("this machine has an NVIDIA GPU")
    assert reader.read().total_mib == 1234


def test_nvml_asked_for_without_nvml_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # as if nvidia-ml-py were not installed
    with pytest.raises(GpuError) as caught:
        build_reader(OffloadSettings(gpu="nvml"))
    message = str(caught.value)
    assert message.startswith('gpu = "nvml": nvidia-ml-py (pynvml) is not installed')
    assert '"simulated"' in message
    assert "\n" not in message


def _nvml_driver_present() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")  # what pynvml loads
    except OSError:
        return False
    return True


def test_nvml_asked_for_without_the_driver_library_is_a_one_line_error() -> None:
    if _nvml_driver_present():
        pytest.skip("this machine has the NVIDIA driver library")
    with pytest.raises(GpuError) as caught:
        build_reader(OffloadSettings(gpu="nvml"))
    assert str(caught.value).startswith('gpu = "nvml": NVML cannot start')
    assert "\n" not in str(caught.value)


def test_nvidia_smi_asked_for_but_not_on_path_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GpuError) as caught:
        build_reader(OffloadSettings(gpu="nvidia-smi"))
    assert str(caught.value).startswith('gpu = "nvidia-smi": nvidia-smi is not on PATH')
    assert "\n" not in str(caught.value)
