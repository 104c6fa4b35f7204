"""The audit chain's verification, run on demand in the background with its progress.

One run at a time per gateway process; the page polls :meth:`VerifyJob.snapshot`.
Streams are verified one after another in a worker thread (the check reads files), so
progress advances a stream at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from securellm.gateway.audit.chain import head_streams, stream_files
from securellm.gateway.audit.verify import Problem, Report, verify_stream

log = logging.getLogger(__name__)


@dataclass
class Progress:
    state: str = "idle"  # idle | running | ok | broken | failed
    streams_done: int = 0
    streams: int = 0
    files: int = 0
    records: int = 0
    problems: list[Problem] = field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None
    error: str = ""


def _streams(directory: Path) -> tuple[dict[int, list[Path]], list[int]]:
    if not directory.is_dir():
        return {}, []
    by_stream = stream_files(directory)
    return by_stream, sorted(by_stream.keys() | head_streams(directory))


class VerifyJob:
    def __init__(self) -> None:
        self.progress = Progress()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, directory: Path, key: bytes | None) -> bool:
        """Begin a run; ``False`` when one is already running."""
        if self.running:
            return False
        self.progress = Progress(state="running", started_at=time.time())
        self._task = asyncio.get_running_loop().create_task(self._run(directory, key))
        return True

    async def _run(self, directory: Path, key: bytes | None) -> None:
        progress = self.progress
        try:
            by_stream, streams = await asyncio.to_thread(_streams, directory)
            progress.streams = len(streams)
            total = Report()
            for stream in streams:
                files = by_stream.get(stream, [])
                part = await asyncio.to_thread(verify_stream, directory, stream, files, key)
                total.merge(part)
                progress.streams_done += 1
                progress.files, progress.records = total.files, total.records
            progress.problems = sorted(total.problems, key=lambda p: (p.file, p.line))
            progress.state = "ok" if total.ok else "broken"
        except Exception as exc:  # a broken run must say so, not hang at "running"
            log.exception("audit verification failed")
            progress.state, progress.error = "failed", type(exc).__name__
        finally:
            progress.finished_at = time.time()
