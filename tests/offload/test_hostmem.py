"""Host RAM needs: llama-cpp-python's logits array, weights and KV left on the CPU."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from securellm.core.config import Settings
from securellm.core.config.offload import DEFAULT_LLAMACPP_COMMAND
from securellm.offload.api import create_app
from securellm.offload.errors import InsufficientHostMemory
from securellm.offload.estimate import LoadParams, kv_bytes
from securellm.offload.gguf_meta import ModelMeta
from securellm.offload.hostmem import HostNeed, check_host_memory, host_need, mem_available_mib

from .conftest import TinyWriter

LLAMA_SERVER = ("llama-server", "-m", "{model}", "--port", "{port}")
MIB = 1024 * 1024


def test_python_server_logits_are_ctx_by_vocab_floats(gemma_meta: ModelMeta) -> None:
    need = host_need(gemma_meta, LoadParams(ctx=32768), DEFAULT_LLAMACPP_COMMAND)
    assert need.logits == 32768 * 262144 * 4 / MIB  # the 32 GiB of the issue


def test_logits_all_off_keeps_one_batch_of_logits(gemma_meta: ModelMeta) -> None:
    argv = (*DEFAULT_LLAMACPP_COMMAND, "--logits_all", "False")
    assert host_need(gemma_meta, LoadParams(ctx=32768), argv).logits == 512 * 262144 * 4 / MIB


def test_llama_server_has_no_logits_array(gemma_meta: ModelMeta) -> None:
    assert host_need(gemma_meta, LoadParams(ctx=32768), LLAMA_SERVER).logits == 0


def test_layers_left_on_the_cpu_bring_their_weights_and_kv(gemma_meta: ModelMeta) -> None:
    params = LoadParams(ctx=4096, ngl=0)
    need = host_need(gemma_meta, params, LLAMA_SERVER)
    assert need.weights == gemma_meta.tensor_bytes / MIB
    assert need.kv == kv_bytes(gemma_meta, replace(params, ngl=999)) / MIB


def test_fully_offloaded_model_keeps_no_kv_on_the_cpu(gemma_meta: ModelMeta) -> None:
    assert host_need(gemma_meta, LoadParams(ctx=4096), LLAMA_SERVER).kv == 0


def test_a_load_above_available_memory_is_refused_with_the_figures(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(host_reserve_mib=512).offload
    need = HostNeed(logits=32768, weights=170, kv=0)
    with pytest.raises(InsufficientHostMemory, match=r"about 32938 MiB .*logits 32768 MiB") as err:
        check_host_memory(settings, "gemma", need, available_mib=16000)
    assert "16000 MiB are available (512 MiB kept free)" in str(err.value)


def test_a_load_that_fits_passes(make_settings: Callable[..., Settings]) -> None:
    need = HostNeed(logits=1024, weights=170, kv=0)
    check_host_memory(make_settings().offload, "gemma", need, available_mib=16000)


def test_mem_available_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       32000000 kB\nMemAvailable:   2048000 kB\n")
    assert mem_available_mib(meminfo) == 2000


def test_mem_available_of_this_host_is_known() -> None:
    assert (mem_available_mib() or 0) > 0


@pytest.fixture
def client(
    tmp_path: Path, tiny_gguf: TinyWriter, make_settings: Callable[..., Settings]
) -> TestClient:
    tiny_gguf(tmp_path / "models" / "tiny.gguf")
    available = mem_available_mib() or 0
    settings = make_settings(
        model_dirs=[str(tmp_path / "models")], host_reserve_mib=available + 1024**2
    )
    return TestClient(create_app(settings))


def test_the_api_refuses_the_load_with_507_in_the_error_shape(client: TestClient) -> None:
    with client:
        response = client.post("/models/tiny/load")
    assert response.status_code == 507
    error = response.json()["error"]
    assert error["code"] == "insufficient_host_memory"
    assert "MiB of host RAM" in error["message"]


def test_the_model_detail_shows_the_host_need(client: TestClient) -> None:
    with client:
        detail = client.get("/models/tiny").json()
    assert set(detail["host_memory_mib"]) == {"logits", "weights", "kv", "device", "total"}
    assert detail["host_available_mib"] > 0
