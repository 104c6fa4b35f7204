"""The record of model servers offload started, and what a restart does with survivors.

The processes here are real (a Python child that sleeps stands in for a model server, since
only its pid and process group matter); the crash test with the real llama.cpp-based server
is ``test_crash_recovery.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from securellm.offload.ownership import (
    Ownership,
    ServerRecord,
    die_with_parent,
    start_time,
)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(SLEEPER, start_new_session=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _gone(pid: int, within_s: float = 20.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if start_time(pid) is None:
            return True
        time.sleep(0.05)
    return False


def _orphan(path: Path, proc: subprocess.Popen[bytes]) -> Ownership:
    """A servers.json naming ``proc`` as started by an offload that has exited."""
    started = start_time(proc.pid)
    assert started is not None
    record = ServerRecord(proc.pid, started, 9100, "m", "hash", _dead_pid(), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"servers": [record.__dict__]}))
    return Ownership(path)


def test_start_time_tells_a_live_process_from_a_dead_pid() -> None:
    assert start_time(os.getpid()) is not None
    assert start_time(_dead_pid()) is None


def test_a_recorded_server_is_written_to_the_file(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    ownership = Ownership(tmp_path / "servers.json")
    ownership.record(sleeper.pid, 9100, "gemma", ["llama", "--port", "9100"])
    [saved] = json.loads((tmp_path / "servers.json").read_text())["servers"]
    assert (saved["pid"], saved["port"], saved["model_id"]) == (sleeper.pid, 9100, "gemma")
    assert saved["start_time"] == start_time(sleeper.pid)
    assert saved["owner_pid"] == os.getpid()


def test_a_forgotten_server_leaves_the_file(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    ownership = Ownership(tmp_path / "servers.json")
    ownership.record(sleeper.pid, 9100, "gemma", ["llama"])
    ownership.forget(sleeper.pid)
    assert ownership.records() == []


def test_recover_stops_a_server_whose_offload_is_gone(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    stopped = _orphan(tmp_path / "servers.json", sleeper).recover(stop_timeout_s=5)
    assert [r.pid for r in stopped] == [sleeper.pid]
    assert sleeper.wait(20) == -signal.SIGTERM


def test_recover_kills_a_server_that_ignores_sigterm(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(120)"
    )
    stubborn = subprocess.Popen(
        [sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE
    )
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
        _orphan(tmp_path / "servers.json", stubborn).recover(stop_timeout_s=0.5)
        assert stubborn.wait(20) == -signal.SIGKILL
    finally:
        if stubborn.poll() is None:
            stubborn.kill()


def test_recover_leaves_servers_of_a_running_offload_alone(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    Ownership(tmp_path / "servers.json").record(sleeper.pid, 9100, "m", ["x"])
    assert Ownership(tmp_path / "servers.json").recover(stop_timeout_s=1) == []
    assert sleeper.poll() is None


def test_a_reused_pid_is_not_stopped(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    started = start_time(sleeper.pid)
    assert started is not None
    record = ServerRecord(sleeper.pid, started + 1, 9100, "m", "h", _dead_pid(), 1)
    (tmp_path / "servers.json").write_text(json.dumps({"servers": [record.__dict__]}))
    assert Ownership(tmp_path / "servers.json").recover(stop_timeout_s=1) == []
    assert sleeper.poll() is None


def test_an_unreadable_file_counts_as_empty(tmp_path: Path) -> None:
    (tmp_path / "servers.json").write_text("{not json")
    assert Ownership(tmp_path / "servers.json").records() == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_armed_with_pdeathsig_dies_with_its_parent(tmp_path: Path) -> None:
    assert die_with_parent() is not None
    parent_code = (
        "import subprocess, sys, time\n"
        "from securellm.offload.ownership import die_with_parent\n"
        f"child = subprocess.Popen({SLEEPER!r}, preexec_fn=die_with_parent())\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    assert _gone(child)
