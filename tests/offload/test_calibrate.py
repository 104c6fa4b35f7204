"""Parsing the buffer sizes llama.cpp logs at load."""

from __future__ import annotations

from pathlib import Path

from securellm.offload.calibrate import parse_buffers
from securellm.offload.estimate import Buffers

FIXTURES = Path(__file__).parent / "fixtures"


def test_cpu_log_counts_mapped_weights_and_both_kv_caches() -> None:
    buffers = parse_buffers((FIXTURES / "llama_cpu.log").read_text())
    assert buffers == Buffers(weights=235.16, kv=18.0, compute=514.5, output=1.0)


def test_cuda_log_counts_only_device_buffers() -> None:
    buffers = parse_buffers((FIXTURES / "llama_cuda.log").read_text())
    assert buffers == Buffers(weights=4403.49, kv=1024.0, compute=560.0, output=0.0)


def test_log_without_buffers_gives_none() -> None:
    assert parse_buffers("INFO: Uvicorn running on http://127.0.0.1:9100\n") is None
