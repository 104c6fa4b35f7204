"""Reading GGUF metadata with the gguf package, and refusing bad files with a reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter

from securellm.offload.gguf_meta import ModelMeta, UnusableModel, read_gguf

from .conftest import TinyWriter


def test_reads_architecture_and_attention_shape(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    path = tiny_gguf(tmp_path / "m.gguf", arch="llama", layers=3, heads=8, kv_heads=2)
    meta = read_gguf(path)
    assert (meta.architecture, meta.block_count, meta.head_count) == ("llama", 3, 8)
    assert meta.kv_heads == (2, 2, 2)
    assert meta.context_length == 2048
    assert meta.vocab_size == 32


def test_per_layer_kv_heads_are_kept(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    meta = read_gguf(tiny_gguf(tmp_path / "m.gguf", layers=2, kv_heads=[1, 4]))
    assert meta.kv_heads == (1, 4)


def test_counts_parameters_and_tensor_bytes(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    meta = read_gguf(tiny_gguf(tmp_path / "m.gguf", layers=1, embd=8, vocab=4))
    # token_embd 4x8 + attn_q 8x8 + ffn_up 16x8 + output 4x8, all F32
    assert meta.parameters == 32 + 64 + 128 + 32
    assert meta.tensor_bytes == 4 * meta.parameters
    assert meta.layer_bytes == (4 * (64 + 128),)


def test_sliding_window_and_quantisation_are_read(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    meta = read_gguf(tiny_gguf(tmp_path / "m.gguf", arch="gemma3", sliding_window=512))
    assert meta.sliding_window == 512
    assert meta.quantization == "ALL_F32"


def test_truncated_file_is_unusable_with_reason(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    path = tiny_gguf(tmp_path / "m.gguf")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 4096])
    with pytest.raises(UnusableModel, match="truncated"):
        read_gguf(path)


def test_garbage_file_is_unusable_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "junk.gguf"
    path.write_bytes(b"this is not a model" * 10)
    with pytest.raises(UnusableModel, match="not a valid GGUF"):
        read_gguf(path)


def test_meta_round_trips_through_json(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    meta = read_gguf(tiny_gguf(tmp_path / "m.gguf", kv_heads=[1, 2]))
    assert ModelMeta.from_json(meta.to_json()) == meta


def test_real_gemma_metadata(gemma_meta: ModelMeta) -> None:
    meta = gemma_meta
    assert meta.architecture == "gemma3"
    assert meta.quantization == "Q4_K_M"
    assert (meta.block_count, meta.head_count, meta.kv_heads[0]) == (18, 4, 1)
    assert (meta.key_length, meta.value_length, meta.sliding_window) == (256, 256, 512)
    assert meta.vocab_size == 262144


def _split_model(folder: Path, max_tensors: int) -> Path:
    writer = GGUFWriter(folder / "m.gguf", "llama", split_max_tensors=max_tensors)
    writer.add_block_count(2)
    for il in range(2):
        for name in ("attn_q", "ffn_up"):
            writer.add_tensor(f"blk.{il}.{name}.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return folder / "m-00001-of-00002.gguf"


def test_split_model_counts_every_shard(tmp_path: Path) -> None:
    meta = read_gguf(_split_model(tmp_path, max_tensors=2))
    assert meta.tensor_bytes == 4 * 16 * 4
    assert meta.layer_bytes == (128, 128)


def test_split_model_with_a_missing_shard_is_unusable(tmp_path: Path) -> None:
    first = _split_model(tmp_path, max_tensors=2)
    (tmp_path / "m-00002-of-00002.gguf").unlink()
    with pytest.raises(UnusableModel, match="missing or unreadable shard"):
        read_gguf(first)
