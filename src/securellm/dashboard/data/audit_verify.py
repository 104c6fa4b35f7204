"""Chain verification started from the dashboard: one at a time, in a worker thread."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from securellm.gateway.audit.chain import count_lines, stream_files
from securellm.gateway.audit.verify import Report, verify_directory


@dataclass
class Verification:
    """Where the latest verification stands: records checked of the total, then the report."""

    checked: int = 0
    total: int = 0
    running: bool = False
    report: Report | None = None
    task: asyncio.Task[None] | None = None

    def tick(self, count: int) -> None:
        self.checked += count

    def start(self, directory: Path, key: bytes | None) -> bool:
        """Start verifying ``directory``; ``False`` when one is already running."""
        if self.running:
            return False
        self.running, self.checked, self.report = True, 0, None
        self.task = asyncio.get_running_loop().create_task(self._run(directory, key))
        return True

    async def _run(self, directory: Path, key: bytes | None) -> None:
        try:
            self.total = await asyncio.to_thread(total_lines, directory)
            self.report = await asyncio.to_thread(verify_directory, directory, key, self.tick)
        finally:
            self.running = False


def total_lines(directory: Path) -> int:
    if not directory.is_dir():
        return 0
    return sum(count_lines(p) for files in stream_files(directory).values() for p in files)
