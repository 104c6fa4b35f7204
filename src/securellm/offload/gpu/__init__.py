"""GPU memory readers: NVML, ``nvidia-smi``, and a simulated GPU, behind one cached monitor."""

from securellm.offload.gpu.base import GpuInfo, GpuProcess, GpuReader, VramMonitor, VramReading
from securellm.offload.gpu.factory import build_reader
from securellm.offload.gpu.simulated import SimulatedGpu

__all__ = [
    "GpuInfo",
    "GpuProcess",
    "GpuReader",
    "SimulatedGpu",
    "VramMonitor",
    "VramReading",
    "build_reader",
]
