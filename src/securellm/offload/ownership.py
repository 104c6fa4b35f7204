"""Which model servers this offload started, kept in the state dir so a crash leaves no orphan.

Each server is recorded when it is spawned (pid, the process start time from ``/proc`` so a
reused pid is never mistaken for it, port, model id, a hash of its argv, and the offload that
owns it) in ``servers.json``, written atomically. On start, offload stops every recorded server
whose owner is gone: SIGTERM to its process group, then SIGKILL. We stop rather than adopt:
with ``PR_SET_PDEATHSIG`` (Linux) a server already dies with offload, even on SIGKILL, and
systemd's ``KillMode=control-group`` does the same on a restart (and a server writing to the
log pipe of a dead offload gets EPIPE), so a survivor means a platform with none of these, or a
quiet server; adopting it would mean serving through a process offload cannot wait on, whose
load parameters may no longer match the config, to save one cold load of a few seconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import hashlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def start_time(pid: int) -> int | None:
    """The process start time in clock ticks since boot (``/proc/<pid>/stat`` field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] == "Z":  # a zombie has already let go of its memory
        return None
    return int(fields[19])


def argv_hash(argv: list[str]) -> str:
    return hashlib.sha256("\0".join(argv).encode()).hexdigest()[:16]


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks Linux to SIGKILL the child when offload dies; None elsewhere.

    libc and ``prctl`` are looked up here, before the fork, so the child only makes the call.
    The signal follows the thread that forked: offload spawns from its event loop thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # offload died between fork and prctl
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


@dataclass(frozen=True)
class ServerRecord:
    pid: int
    start_time: int
    port: int
    model_id: str
    argv_hash: str
    owner_pid: int
    owner_start_time: int

    def alive(self) -> bool:
        return start_time(self.pid) == self.start_time

    def owner_alive(self) -> bool:
        return start_time(self.owner_pid) == self.owner_start_time


class Ownership:
    """``servers.json`` in the state dir; every change is a locked read-modify-replace."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._start = start_time(self._pid) or 0

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[ServerRecord]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = self._read()
            before = list(records)
            yield records
            if records != before:
                self._write(records)

    def _read(self) -> list[ServerRecord]:
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
            return [ServerRecord(**item) for item in data["servers"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return []

    def _write(self, records: list[ServerRecord]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{self._pid}.tmp")
        body = json.dumps({"servers": [asdict(r) for r in records]}, indent=1)
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def records(self) -> list[ServerRecord]:
        with self._locked() as records:
            return list(records)

    def record(self, pid: int, port: int, model_id: str, argv: list[str]) -> None:
        started = start_time(pid)
        if started is None:
            return  # it already exited; there is nothing to own
        entry = ServerRecord(pid, started, port, model_id, argv_hash(argv), self._pid, self._start)
        with self._locked() as records:
            records[:] = [r for r in records if r.pid != pid] + [entry]

    def forget(self, pid: int) -> None:
        with self._locked() as records:
            records[:] = [r for r in records if r.pid != pid]

    def recover(self, stop_timeout_s: float) -> list[ServerRecord]:
        """Stop the servers of offloads that are gone; returns those it stopped."""
        with self._locked() as records:
            orphans = [r for r in records if not r.owner_alive() and r.alive()]
            records[:] = [r for r in records if r.owner_alive() and r.alive()]
        for orphan in orphans:
            log.warning(
                "stopping model server %s (pid %d, port %d) left by an offload that is gone",
                orphan.model_id,
                orphan.pid,
                orphan.port,
            )
            stop_orphan(orphan, stop_timeout_s)
        return orphans


def stop_orphan(record: ServerRecord, timeout_s: float) -> None:
    """SIGTERM its process group (it leads its own session), then SIGKILL after ``timeout_s``."""
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        if not record.alive():
            return
        try:
            os.killpg(record.pid, sig)
        except (ProcessLookupError, PermissionError):  # not a group leader after all
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(record.pid, sig)
        deadline = time.monotonic() + wait
        while record.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
