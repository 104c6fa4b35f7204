"""NVML through nvidia-ml-py (``pynvml``): the precise reader on hosts with an NVIDIA driver."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from securellm.offload.errors import GpuError
from securellm.offload.gpu.base import MIB, GpuInfo, GpuProcess, Source, VramReading


def load_pynvml() -> Any:
    """Import pynvml and initialise NVML, or raise :class:`GpuError` saying why not."""
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError as exc:
        raise GpuError("nvidia-ml-py (pynvml) is not installed") from exc
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError subclasses; the driver library may be absent
        raise GpuError(f"NVML cannot start: {exc}") from exc
    return nvml


class NvmlReader:
    """Reads every GPU's memory and compute processes through an initialised NVML module."""

    source: Source = "nvml"

    def __init__(self, nvml: Any, proc_root: Path = Path("/proc")) -> None:
        self._nvml = nvml
        self._proc_root = proc_root

    def read(self) -> VramReading:
        nvml = self._nvml
        gpus: list[GpuInfo] = []
        processes: list[GpuProcess] = []
        try:
            for index in range(int(nvml.nvmlDeviceGetCount())):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                gpus.append(self._gpu(index, handle))
                processes.extend(self._processes(index, handle))
        except Exception as exc:  # NVMLError: a GPU fell off the bus, driver reloaded
            raise GpuError(f"NVML reading failed: {exc}") from exc
        return VramReading(source="nvml", gpus=tuple(gpus), processes=tuple(processes))

    def _gpu(self, index: int, handle: Any) -> GpuInfo:
        name = self._nvml.nvmlDeviceGetName(handle)
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
        return GpuInfo(
            index=index,
            name=str(name),
            total_mib=int(memory.total) // MIB,
            used_mib=int(memory.used) // MIB,
            free_mib=int(memory.free) // MIB,
        )

    def _processes(self, index: int, handle: Any) -> list[GpuProcess]:
        found: list[GpuProcess] = []
        try:
            running = self._nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        except Exception:  # NVMLError_NotSupported (WSL, some vGPUs): no process table
            return found
        for proc in running:
            used = getattr(proc, "usedGpuMemory", None)
            found.append(
                GpuProcess(
                    pid=int(proc.pid),
                    name=self._process_name(int(proc.pid)),
                    used_mib=int(used) // MIB if used is not None else None,
                    gpu_index=index,
                )
            )
        return found

    def _process_name(self, pid: int) -> str:
        try:
            return (self._proc_root / str(pid) / "comm").read_text().strip()
        except OSError:
            return "?"
