"""``securellm models ...``, ``securellm gpu ...`` and ``securellm offload --help``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter
from typer.testing import CliRunner

from securellm.cli.main import app
from support.require import free_port

runner = CliRunner()


def _tiny(path: Path) -> None:
    writer = GGUFWriter(path, "llama")
    writer.add_block_count(1)
    writer.add_embedding_length(8)
    writer.add_head_count(2)
    writer.add_head_count_kv(1)
    writer.add_context_length(1024)
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((8, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    _tiny(models / "tiny-llama-Q4_K_M.gguf")
    (models / "broken.gguf").write_bytes(b"nope")
    path = tmp_path / "offload.toml"
    path.write_text(
        f"""
data_dir = "{tmp_path / "data"}"
state_dir = "{tmp_path / "state"}"
log_dir = "{tmp_path / "log"}"
[offload]
port = {free_port()}
model_dirs = ["{models}"]
ollama_dir = "{tmp_path / "none"}"
huggingface_dir = "{tmp_path / "none"}"
include_bundled = false
gpu = "simulated"
simulated_vram_mib = 3000
build_mode_wait_s = 0
"""
    )
    return path


def _fake_systemctl(folder: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder.mkdir()
    script = folder / "systemctl"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")


def test_models_scan_reports_added_and_unusable(config: Path) -> None:
    result = runner.invoke(app, ["models", "scan", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "added 2" in result.output
    assert "unusable 1" in result.output


def test_models_list_json_has_ids_and_reasons(config: Path) -> None:
    runner.invoke(app, ["models", "scan", "--config", str(config)])
    result = runner.invoke(app, ["models", "list", "--json", "--config", str(config)])
    rows = {row["id"]: row for row in json.loads(result.output)["data"]}
    assert rows["tiny-llama"]["usable"] is True
    assert rows["broken"]["usable"] is False
    assert rows["broken"]["reason"]


def test_models_list_table_shows_the_estimate(config: Path) -> None:
    runner.invoke(app, ["models", "scan", "--config", str(config)])
    result = runner.invoke(app, ["models", "list", "--config", str(config)])
    assert "tiny-llama" in result.output
    assert "MiB" in result.output


def test_models_show_prints_the_buffer_estimate(config: Path) -> None:
    runner.invoke(app, ["models", "scan", "--config", str(config)])
    result = runner.invoke(app, ["models", "show", "tiny-llama", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "weights" in result.output
    assert "measured" in result.output


def test_models_show_unknown_model_fails_clearly(config: Path) -> None:
    result = runner.invoke(app, ["models", "show", "ghost", "--config", str(config)])
    assert result.exit_code == 1
    assert "not in the registry" in result.output


def test_gpu_status_reads_the_simulated_gpu(config: Path) -> None:
    result = runner.invoke(app, ["gpu", "status", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["source"] == "simulated"
    assert body["gpus"][0]["total_mib"] == 3000


def test_gpu_mode_build_stops_units_when_offload_is_not_running(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_systemctl(tmp_path / "bin", f'echo "$@" >> {tmp_path / "argv.log"}\n', monkeypatch)
    result = runner.invoke(app, ["gpu", "mode", "build", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "mode: build" in result.output
    assert (tmp_path / "argv.log").read_text().splitlines() == [
        "stop llamacpp.service",
        "stop ollama.service",
    ]


def test_gpu_mode_without_permission_fails_clearly(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_systemctl(tmp_path / "bin", 'echo "Access denied" >&2\nexit 4\n', monkeypatch)
    result = runner.invoke(app, ["gpu", "mode", "build", "--config", str(config)])
    assert result.exit_code == 1
    assert "not allowed to stop llamacpp.service" in result.output


def test_gpu_mode_build_with_a_failing_unit_undoes_and_fails(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = f'echo "$@" >> {tmp_path / "argv.log"}\n[ "$2" = ollama.service ] && exit 1\nexit 0\n'
    _fake_systemctl(tmp_path / "bin", body, monkeypatch)
    result = runner.invoke(app, ["gpu", "mode", "build", "--config", str(config)])
    assert result.exit_code == 1
    assert "offload is not running" in result.output
    assert "stop ollama.service failed" in result.output
    assert (tmp_path / "argv.log").read_text().splitlines()[-1] == "start llamacpp.service"


def test_gpu_mode_rejects_an_unknown_mode(config: Path) -> None:
    result = runner.invoke(app, ["gpu", "mode", "turbo", "--config", str(config)])
    assert result.exit_code == 2


def test_gpu_mode_without_argument_shows_the_mode(config: Path) -> None:
    result = runner.invoke(app, ["gpu", "mode", "--config", str(config)])
    assert "mode: local" in result.output


def test_offload_command_has_host_and_port_options() -> None:
    result = runner.invoke(app, ["offload", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output
    assert "--host" in result.output


def _offload_without_gpu(
    config: Path, gpu: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    text = config.read_text().replace('gpu = "simulated"', f'gpu = "{gpu}"')
    config.write_text(text)
    # pynvml made unimportable: the same path as a machine without nvidia-ml-py or the driver
    code = (
        "import sys; sys.modules['pynvml'] = None; "
        "from securellm.cli.main import main; "
        f"sys.argv = ['securellm', 'offload', '--config', {str(config)!r}]; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_offload_with_gpu_nvml_and_no_nvml_exits_with_one_line(config: Path) -> None:
    done = _offload_without_gpu(config, "nvml", dict(os.environ))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith('error: gpu = "nvml": nvidia-ml-py (pynvml) is not installed')
    assert '[offload] gpu = "auto"' in line


def test_offload_with_gpu_nvidia_smi_missing_exits_with_one_line(
    config: Path, tmp_path: Path
) -> None:
    done = _offload_without_gpu(config, "nvidia-smi", {**os.environ, "PATH": str(tmp_path)})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith('error: gpu = "nvidia-smi": nvidia-smi is not on PATH')


def test_gpu_status_with_gpu_nvml_and_no_nvml_exits_with_one_line(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text(config.read_text().replace('gpu = "simulated"', 'gpu = "nvml"'))
    monkeypatch.setitem(sys.modules, "pynvml", None)
    result = runner.invoke(app, ["gpu", "status", "--config", str(config)])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith('error: gpu = "nvml"')


def test_models_list_says_which_models_cannot_chat(config: Path) -> None:
    runner.invoke(app, ["models", "scan", "--config", str(config)])
    listed = runner.invoke(app, ["models", "list", "--json", "--config", str(config)])
    rows = {row["id"]: row for row in json.loads(listed.output)["data"]}
    assert "tokenizer.chat_template" in rows["tiny-llama"]["chat"]["reason"]
    table = runner.invoke(app, ["models", "list", "--config", str(config)], env={"COLUMNS": "200"})
    assert "completions only: no chat template" in table.output
