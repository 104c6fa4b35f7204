"""Real ``securellm offload`` processes for tests: the bundled Gemma, a simulated GPU, a port.

``prepare_registry`` scans the bundled Gemma's folder once into a registry file (reading its
metadata takes seconds); each host starts from a copy of it, so several hosts cost one read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from securellm.offload.discovery import discover
from securellm.offload.registry import Registry
from support.require import free_port

GEMMA = "gemma-3-270m"  # the bundled file's registry id


def prepare_registry(path: Path, gemma: Path) -> Path:
    registry = Registry(path)
    try:
        registry.scan(discover((gemma.parent,), None, None))
    finally:
        registry.close()
    return path


class OffloadHost:
    """One running offload: ``call`` its API; ``stop`` ends it (``start`` again on the port)."""

    def __init__(self, root: Path, registry: Path, vram_mib: int = 2048) -> None:
        self.root = root
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(registry, root / "registry.db")
        self.config = root / "offload.toml"
        self.config.write_text(
            f"""
data_dir = "{root / "data"}"
state_dir = "{root / "state"}"
log_dir = "{root / "log"}"

[offload]
port = {self.port}
registry_path = "{root / "registry.db"}"
model_dirs = []
ollama_dir = "{root / "no-ollama"}"
huggingface_dir = "{root / "no-hf"}"
gpu = "simulated"
simulated_vram_mib = {vram_mib}
cuda_overhead_mib = 300
default_ctx = 1024
gpu_units = []
"""
        )

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "SECURELLM_CONFIG"}
        argv = [sys.executable, "-m", "securellm", "offload", "--config", str(self.config)]
        with (self.root / "offload.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self._wait()

    def _wait(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.root / "offload.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"offload exited: {log}")
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("offload did not start in 90 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.base + path, json=body) as response,
        ):
            return response.status, await response.json(content_type=None)

    async def loaded(self) -> list[str]:
        _, vram = await self.call("GET", "/health/vram")
        return [m["model"] for m in vram["loaded"]]

    async def counter(self, name: str, model: str) -> float:
        """A per-model counter from ``/metrics`` (0 when it has no sample yet)."""
        async with aiohttp.ClientSession() as session, session.get(self.base + "/metrics") as r:
            text = await r.text()
        prefix = f'{name}{{model="{model}"'
        total = 0.0
        for line in text.splitlines():
            if line.startswith(prefix):
                total += float(line.rsplit(" ", 1)[1])
        return total


@contextmanager
def running(host: OffloadHost) -> Iterator[OffloadHost]:
    host.start()
    try:
        yield host
    finally:
        host.stop()
