"""``nvidia-smi`` CSV parsing: the fallback when NVML cannot be loaded from Python."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

from securellm.offload.errors import GpuError
from securellm.offload.gpu.base import GpuInfo, GpuProcess, Source, VramReading

GPU_QUERY = "--query-gpu=index,uuid,name,memory.total,memory.used,memory.free"
APPS_QUERY = "--query-compute-apps=gpu_uuid,pid,process_name,used_memory"
CSV = "--format=csv,noheader,nounits"

Runner = Callable[[Sequence[str]], str]


def run_command(argv: Sequence[str]) -> str:
    """Run ``argv`` (never through a shell) and return its stdout."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GpuError(f"{argv[0]} failed: {exc}") from exc
    if done.returncode != 0:
        raise GpuError(f"{argv[0]} exited {done.returncode}: {done.stderr.strip()[:200]}")
    return done.stdout


def _rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.split(",")] for line in text.splitlines() if line.strip()
    ]


def _mib(cell: str) -> int | None:
    try:
        return int(float(cell))
    except ValueError:  # "[N/A]", "[Not Supported]"
        return None


def parse_gpus(text: str) -> tuple[list[GpuInfo], dict[str, int]]:
    """Parse the ``GPU_QUERY`` output; also return uuid -> index for the process table."""
    gpus: list[GpuInfo] = []
    by_uuid: dict[str, int] = {}
    for row in _rows(text):
        if len(row) < 6:
            raise GpuError(f"unexpected nvidia-smi line: {', '.join(row)}")
        index, uuid, *name_parts = row[:-3]
        total, used, free = (_mib(c) for c in row[-3:])
        if total is None or used is None or free is None or not index.isdigit():
            raise GpuError(f"unexpected nvidia-smi line: {', '.join(row)}")
        gpus.append(GpuInfo(int(index), ", ".join(name_parts), total, used, free))
        by_uuid[uuid] = int(index)
    return gpus, by_uuid


def parse_processes(text: str, by_uuid: dict[str, int]) -> list[GpuProcess]:
    """Parse the ``APPS_QUERY`` output."""
    found: list[GpuProcess] = []
    for row in _rows(text):
        if len(row) < 4 or not row[1].isdigit():
            continue
        uuid, pid, *name_parts = row[:-1]
        name = ", ".join(name_parts)
        found.append(GpuProcess(int(pid), name, _mib(row[-1]), by_uuid.get(uuid, 0)))
    return found


class SmiReader:
    """Takes readings by running ``nvidia-smi`` twice (GPUs, then compute processes)."""

    source: Source = "nvidia-smi"

    def __init__(self, binary: str = "nvidia-smi", run: Runner = run_command) -> None:
        self._binary = binary
        self._run = run

    def read(self) -> VramReading:
        gpus, by_uuid = parse_gpus(self._run([self._binary, GPU_QUERY, CSV]))
        if not gpus:
            raise GpuError("nvidia-smi lists no GPU")
        processes = parse_processes(self._run([self._binary, APPS_QUERY, CSV]), by_uuid)
        return VramReading(source="nvidia-smi", gpus=tuple(gpus), processes=tuple(processes))
