"""A GPU that exists only in accounting: its used memory is what offload says it loaded."""

from __future__ import annotations

from securellm.offload.gpu.base import GpuInfo, Source, VramReading


class SimulatedGpu:
    """One GPU of ``total_mib``; :meth:`account` and :meth:`release` move its usage."""

    source: Source = "simulated"

    def __init__(self, total_mib: int, name: str = "Simulated GPU") -> None:
        self.total_mib = total_mib
        self.name = name
        self._held: dict[str, int] = {}

    def account(self, owner: str, mib: int) -> None:
        self._held[owner] = mib

    def release(self, owner: str) -> None:
        self._held.pop(owner, None)

    def read(self) -> VramReading:
        used = min(sum(self._held.values()), self.total_mib)
        gpu = GpuInfo(
            index=0,
            name=self.name,
            total_mib=self.total_mib,
            used_mib=used,
            free_mib=self.total_mib - used,
        )
        return VramReading(source="simulated", gpus=(gpu,))
