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


FIX = 'install the NVIDIA driver, or set [offload] gpu = "auto" (falls back) or "simulated"'


def build_reader(settings: OffloadSettings) -> GpuReader:
    """The reader for ``settings.gpu``; raises :class:`GpuError` when an explicit one fails.

    The error is one line that names the setting, what is missing and what to do.
    """
    if settings.gpu == "simulated":
        return SimulatedGpu(settings.simulated_vram_mib)
    if settings.gpu == "nvml":
        try:
            return _checked(NvmlReader(load_pynvml()))
        except GpuError as exc:
            raise GpuError(f'gpu = "nvml": {exc}; {FIX}') from None
    if settings.gpu == "nvidia-smi":
        if shutil.which("nvidia-smi") is None:
            raise GpuError(f'gpu = "nvidia-smi": nvidia-smi is not on PATH; {FIX}')
        try:
            return _checked(SmiReader())
        except GpuError as exc:
            raise GpuError(f'gpu = "nvidia-smi": {exc}; {FIX}') from None
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
