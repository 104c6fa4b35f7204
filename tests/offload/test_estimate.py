"""The VRAM estimator: weights, KV cache (SWA, quantised types, per-layer heads), calibration."""

from __future__ import annotations

import pytest

from securellm.core.config.offload import OffloadSettings
from securellm.offload.estimate import (
    MIB,
    Buffers,
    Calibration,
    LoadParams,
    estimate,
    kv_bytes,
    output_bytes,
    raw_buffers,
    swa_layers,
)
from securellm.offload.gguf_meta import ModelMeta

LLAMA_8B = ModelMeta(
    architecture="llama",
    block_count=32,
    embedding_length=4096,
    feed_forward_length=14336,
    head_count=32,
    kv_heads=(8,) * 32,
    vocab_size=128256,
    tensor_bytes=4_920_000_000,
    embedding_bytes=280_000_000,
    layer_bytes=(140_000_000,) * 32,
)
GEMMA3 = ModelMeta(
    architecture="gemma3",
    block_count=18,
    embedding_length=640,
    head_count=4,
    kv_heads=(1,) * 18,
    key_length=256,
    value_length=256,
    sliding_window=512,
    vocab_size=262144,
)


def test_kv_cache_of_llama_8b_at_8k_is_1_gib() -> None:
    # 32 layers x 8 KV heads x 128 dims x (K + V) x 2 bytes x 8192 cells = 1024 MiB
    assert kv_bytes(LLAMA_8B, LoadParams(ctx=8192)) / MIB == 1024


def test_quantised_cache_is_smaller_by_its_block_size() -> None:
    q8 = kv_bytes(LLAMA_8B, LoadParams(ctx=8192, cache_type_k="q8_0", cache_type_v="q8_0"))
    assert q8 / MIB == pytest.approx(1024 * 34 / 64)


def test_gemma3_has_one_global_layer_in_six() -> None:
    assert swa_layers(GEMMA3).count(False) == 3


def test_full_swa_cache_matches_llama_cpp_log() -> None:
    # llama.cpp logged 6.00 MiB (3 global layers) + 30.00 MiB (15 SWA layers) at n_ctx 2048
    assert kv_bytes(GEMMA3, LoadParams(ctx=2048, swa_full=True)) / MIB == 36


def test_small_swa_cache_is_window_plus_ubatch() -> None:
    # SWA layers hold pad256(512 + 512) = 1024 cells instead of 8192
    small = kv_bytes(GEMMA3, LoadParams(ctx=8192, swa_full=False))
    assert small / MIB == (3 * 8192 + 15 * 1024) * 1024 / MIB


def test_per_layer_kv_heads_are_summed() -> None:
    meta = ModelMeta(block_count=2, embedding_length=64, head_count=4, kv_heads=(1, 3))
    # head dim 16; layer 0: 1 head, layer 1: 3 heads; K+V f16
    assert kv_bytes(meta, LoadParams(ctx=100)) == 100 * (1 + 3) * 16 * 2 * 2


def test_partial_offload_counts_only_offloaded_layers() -> None:
    half = raw_buffers(LLAMA_8B, LoadParams(ctx=8192, ngl=16))
    full = raw_buffers(LLAMA_8B, LoadParams(ctx=8192, ngl=999))
    assert half.kv == full.kv / 2
    assert half.weights == 16 * 140_000_000 / MIB


def test_untied_embedding_stays_in_host_memory() -> None:
    full = raw_buffers(LLAMA_8B, LoadParams(ngl=999))
    assert full.weights == (4_920_000_000 - 280_000_000) / MIB


def test_compute_buffer_is_led_by_the_logits() -> None:
    buffers = raw_buffers(GEMMA3, LoadParams(ctx=2048))
    assert buffers.compute == pytest.approx(514.5, rel=0.02)  # what llama.cpp logged


def test_calibration_replaces_the_estimate_at_the_same_params() -> None:
    params = LoadParams(ctx=2048)
    measured = Buffers(weights=235.16, kv=36.0, compute=514.5, output=1.0)
    result = estimate(GEMMA3, params, 300, Calibration(params, measured))
    assert result.calibrated
    assert result.buffers.compute == pytest.approx(514.5)
    assert result.total_mib == round(measured.total + 300)


def test_calibration_scales_to_other_params() -> None:
    measured = Buffers(weights=100.0, kv=36.0 * 1.1, compute=500.0, output=1.0)
    result = estimate(GEMMA3, LoadParams(ctx=4096), 0, Calibration(LoadParams(ctx=2048), measured))
    assert result.buffers.kv == pytest.approx(72 * 1.1)


def test_overhead_is_added_once() -> None:
    result = estimate(GEMMA3, LoadParams(ctx=2048), 300)
    assert result.total_mib == round(result.buffers.total + 300)


def test_embedding_mode_output_buffer_matches_llama_cpp_pythons_log() -> None:
    # llama-cpp-python --embedding True, n_ctx 1024: "CPU output buffer size = 256.62 MiB"
    output = output_bytes(GEMMA3, LoadParams(ctx=1024, embeddings=True)) / MIB
    assert round(output, 2) == 256.62


def test_without_embeddings_the_output_buffer_is_one_row_of_logits() -> None:
    # the same server without --embedding: "CPU output buffer size = 1.00 MiB"
    assert output_bytes(GEMMA3, LoadParams(ctx=1024)) / MIB == 1.0


def test_the_output_buffer_is_host_memory_not_part_of_the_device_total() -> None:
    with_embeddings = raw_buffers(GEMMA3, LoadParams(ctx=1024, embeddings=True))
    without = raw_buffers(GEMMA3, LoadParams(ctx=1024))
    assert with_embeddings.total == without.total
    assert with_embeddings.output > 250


def test_the_default_model_server_command_serves_embeddings() -> None:
    assert OffloadSettings().serves_embeddings
    assert not OffloadSettings(
        llamacpp_command=("llama-server", "-m", "{model}", "--port", "{port}")
    ).serves_embeddings
