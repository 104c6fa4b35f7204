"""What a GPU reading holds, and the cache that makes ``/health/vram`` cost microseconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

Source = Literal["nvml", "nvidia-smi", "simulated"]
MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuInfo:
    """One GPU's memory, in MiB."""

    index: int
    name: str
    total_mib: int
    used_mib: int
    free_mib: int


@dataclass(frozen=True)
class GpuProcess:
    """A process holding GPU memory (what build mode reports as still in the way)."""

    pid: int
    name: str
    used_mib: int | None
    gpu_index: int


@dataclass(frozen=True)
class VramReading:
    """One snapshot of every GPU on the host."""

    source: Source
    gpus: tuple[GpuInfo, ...]
    processes: tuple[GpuProcess, ...] = ()

    @property
    def total_mib(self) -> int:
        return sum(g.total_mib for g in self.gpus)

    @property
    def used_mib(self) -> int:
        return sum(g.used_mib for g in self.gpus)

    @property
    def free_mib(self) -> int:
        return sum(g.free_mib for g in self.gpus)


class GpuReader(Protocol):
    """Anything that can take a reading (NVML, nvidia-smi, the simulated GPU)."""

    source: Source

    def read(self) -> VramReading: ...


class VramMonitor:
    """Caches a reader's last reading for ``ttl_s`` seconds; ``invalidate`` after a load."""

    def __init__(
        self,
        reader: GpuReader,
        ttl_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self._ttl_s = ttl_s
        self._clock = clock
        self._reading: VramReading | None = None
        self._taken_at = 0.0

    @property
    def source(self) -> Source:
        return self.reader.source

    def read(self) -> VramReading:
        now = self._clock()
        if self._reading is None or now - self._taken_at >= self._ttl_s:
            self._reading = self.reader.read()
            self._taken_at = now
        return self._reading

    def invalidate(self) -> None:
        self._reading = None
