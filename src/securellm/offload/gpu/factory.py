"""Pick the GPU reader the settings ask for; ``auto`` falls back NVML -> nvidia-smi -> simulated."""

from __future__ import annotations

import logging
import shutil

from securellm.core.config import OffloadSettings
from securellm.offload.errors import GpuError
from securellm.offload.gpu.base import GpuReader
from securellm.offload.gpu.nvml import NvmlReader, load_pynvml
from securellm.offload.gpu.simulated import SimulatedGpu
from securellm.offload.gpu.smi import SmiReader

log = logging.getLogger(__name__)


def build_reader(settings: OffloadSettings) -> GpuReader:
    """The reader for ``settings.gpu``; raises :class:`GpuError` when an explicit one fails."""
    if settings.gpu == "simulated":
        return SimulatedGpu(settings.simulated_vram_mib)
    if settings.gpu == "nvml":
        return _checked(NvmlReader(load_pynvml()))
    if settings.gpu == "nvidia-smi":
        return _checked(SmiReader())
    try:
        return _checked(NvmlReader(load_pynvml()))
    except GpuError as exc:
        log.info("NVML unavailable (%s)", exc)
    if shutil.which("nvidia-smi"):
        try:
            return _checked(SmiReader())
        except GpuError as exc:
            log.info("nvidia-smi unusable (%s)", exc)
    log.info("no NVIDIA GPU found; simulating %d MiB", settings.simulated_vram_mib)
    return SimulatedGpu(settings.simulated_vram_mib)


def _checked(reader: GpuReader) -> GpuReader:
    reader.read()
    return reader
