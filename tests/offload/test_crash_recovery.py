"""SIGKILL offload mid-load and mid-stream, restart it: exactly one model server per model.

Real parts: ``securellm offload`` as a process, the llama.cpp-based server and a hard link of
the bundled Gemma 3 270M (its path is unique to the test, so counting the processes whose
command line names it counts this test's model servers and nothing else).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from securellm.offload.ownership import start_time
from support.require import free_port, missing

pytestmark = pytest.mark.llama
MODEL = "crashy"


def model_servers(model: Path) -> list[int]:
    """Pids of live processes whose argv names ``model``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(model).encode() in argv and start_time(int(entry.name)) is not None:
            pids.append(int(entry.name))
    return pids


def _settle(model: Path, want: int, within_s: float = 30.0) -> list[int]:
    """The model server pids once their count is ``want`` (or whatever it is after the wait)."""
    deadline = time.monotonic() + within_s
    while len(found := model_servers(model)) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


class Offload:
    """Starts and SIGKILLs ``securellm offload`` processes over one state dir and config."""

    def __init__(self, root: Path, die_with_offload: bool) -> None:
        self.root = root
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.config = root / "offload.toml"
        low = min(free_port(), 65000)
        self.config.write_text(
            f"""
data_dir = "{root / "data"}"
state_dir = "{root / "state"}"
log_dir = "{root / "log"}"
[offload]
port = {self.port}
registry_path = "{root / "registry.db"}"
model_dirs = ["{root / "models"}"]
include_bundled = false
ollama_dir = "{root / "none"}"
huggingface_dir = "{root / "none"}"
gpu = "simulated"
simulated_vram_mib = 4096
default_ctx = 2048
port_range = [{low}, {low + 20}]
die_with_offload = {"true" if die_with_offload else "false"}
"""
        )

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "SECURELLM_CONFIG"}
        argv = [sys.executable, "-m", "securellm", "offload", "--config", str(self.config)]
        with (self.root / "offload.log").open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.root / "offload.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("offload did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)

    def post(self, path: str, body: object = None, timeout: float = 120) -> bytes:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: bytes = response.read()
            return data

    def recorded(self) -> list[dict[str, object]]:
        try:
            data = json.loads((self.root / "state/offload/servers.json").read_text())
        except (OSError, ValueError):
            return []
        servers: list[dict[str, object]] = data["servers"]
        return servers


@pytest.fixture
def model(tmp_path: Path, gemma_path: Path) -> Path:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / f"{MODEL}.gguf"
    os.link(gemma_path, target)
    return target


def _offload(tmp_path: Path, model: Path, die_with_offload: bool) -> Iterator[Offload]:
    offload = Offload(tmp_path, die_with_offload)
    try:
        yield offload
    finally:
        offload.stop()
        for pid in model_servers(model):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def offload(tmp_path: Path, model: Path) -> Iterator[Offload]:
    yield from _offload(tmp_path, model, die_with_offload=True)


@pytest.fixture
def offload_without_pdeathsig(tmp_path: Path, model: Path) -> Iterator[Offload]:
    """Like a platform without PR_SET_PDEATHSIG: model servers outlive a killed offload."""
    yield from _offload(tmp_path, model, die_with_offload=False)


def _kill_mid_load(offload: Offload) -> None:
    """Ask for a load, SIGKILL offload once the server is spawned but before it is healthy."""
    loader = threading.Thread(target=lambda: _ignore_errors(offload.post, f"/models/{MODEL}/load"))
    loader.start()
    deadline = time.monotonic() + 60
    while not offload.recorded() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert offload.recorded(), "the model server was never recorded"
    offload.kill()
    loader.join(60)


def _kill_mid_stream(offload: Offload) -> None:
    offload.post(f"/models/{MODEL}/load")
    body = {"model": MODEL, "prompt": "Once upon a time", "max_tokens": 1500, "stream": True}
    request = urllib.request.Request(
        offload.base + "/v1/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.readline().startswith(b"data: ")
        offload.kill()


def _ignore_errors(call: Callable[..., object], *args: object) -> None:
    with contextlib.suppress(OSError):  # offload was killed under the request: the point
        call(*args)


def _restart_and_load(offload: Offload) -> None:
    offload.start()
    offload.post(f"/models/{MODEL}/load")


def test_sigkill_mid_load_leaves_no_model_server(offload: Offload, model: Path) -> None:
    offload.start()
    _kill_mid_load(offload)
    assert _settle(model, 0) == []


def test_sigkill_mid_load_then_restart_gives_one_server(offload: Offload, model: Path) -> None:
    offload.start()
    _kill_mid_load(offload)
    _restart_and_load(offload)
    assert len(_settle(model, 1)) == 1


def test_sigkill_mid_stream_then_restart_gives_one_server(offload: Offload, model: Path) -> None:
    offload.start()
    _kill_mid_stream(offload)
    _restart_and_load(offload)
    assert len(_settle(model, 1)) == 1


def test_a_surviving_server_is_stopped_on_restart(
    offload_without_pdeathsig: Offload, model: Path
) -> None:
    offload = offload_without_pdeathsig
    offload.start()
    _kill_mid_stream(offload)
    [survivor] = model_servers(model)
    _restart_and_load(offload)
    servers = _settle(model, 1)
    assert len(servers) == 1
    assert survivor not in servers


def test_a_server_surviving_a_kill_mid_load_is_stopped_on_restart(
    offload_without_pdeathsig: Offload, model: Path
) -> None:
    offload = offload_without_pdeathsig
    offload.start()
    _kill_mid_load(offload)
    [record] = offload.recorded()
    # the orphan finishes its load, or dies writing to the pipe offload no longer reads
    _ready_or_gone(int(str(record["port"])), int(str(record["pid"])))
    _restart_and_load(offload)
    servers = _settle(model, 1)
    assert len(servers) == 1
    assert record["pid"] not in servers


def _ready_or_gone(port: int, pid: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and start_time(pid) is not None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
