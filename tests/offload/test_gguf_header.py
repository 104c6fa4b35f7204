"""The header reader: what it decodes, what it skips, and how it refuses bad bytes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter

from securellm.offload.gguf_header import (
    MAX_DECODED_ARRAY,
    HeaderError,
    SkippedArray,
    parse_header,
    read_header,
)
from securellm.offload.gguf_meta import chat_template, read_gguf

from .conftest import TinyWriter


def _with_fields(path: Path, **arrays: Sequence[object]) -> Path:
    writer = GGUFWriter(path, "llama")
    for key, values in arrays.items():
        writer.add_array(key.replace("__", "."), list(values))
    writer.add_chat_template("{{ messages[0]['content'] }}")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_long_string_arrays_are_skipped_but_counted(tmp_path: Path) -> None:
    tokens = [f"tok{i}" for i in range(MAX_DECODED_ARRAY + 10)]
    header = read_header(_with_fields(tmp_path / "m.gguf", tokenizer__ggml__tokens=tokens))
    assert header.fields["tokenizer.ggml.tokens"] == SkippedArray(8, len(tokens))


def test_vocabulary_size_comes_from_a_skipped_token_array(tmp_path: Path) -> None:
    tokens = [f"tok{i}" for i in range(MAX_DECODED_ARRAY + 1)]
    meta = read_gguf(_with_fields(tmp_path / "m.gguf", tokenizer__ggml__tokens=tokens))
    assert meta.vocab_size == len(tokens)


def test_short_numeric_arrays_are_decoded(tmp_path: Path) -> None:
    header = read_header(_with_fields(tmp_path / "m.gguf", llama__x=[1, 4, 2]))
    assert header.fields["llama.x"] == [1, 4, 2]


def test_tensor_table_matches_the_gguf_package(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    path = tiny_gguf(tmp_path / "m.gguf", layers=3)
    ours = [(t.name, t.data_offset, t.n_bytes, t.shape) for t in read_header(path).tensors]
    theirs = [
        (t.name, int(t.data_offset), int(t.n_bytes), tuple(int(d) for d in t.shape))
        for t in GGUFReader(path).tensors
    ]
    assert ours == theirs


def test_chat_template_is_returned_as_a_string(tmp_path: Path) -> None:
    assert chat_template(_with_fields(tmp_path / "m.gguf")) == "{{ messages[0]['content'] }}"


def test_chat_template_is_none_when_the_file_has_none(
    tmp_path: Path, tiny_gguf: TinyWriter
) -> None:
    assert chat_template(tiny_gguf(tmp_path / "m.gguf")) is None


def test_header_cut_inside_the_key_values_is_refused(tmp_path: Path) -> None:
    data = _with_fields(tmp_path / "m.gguf", llama__x=[1, 2]).read_bytes()
    with pytest.raises(HeaderError):
        parse_header(data[:40])


def test_unknown_value_type_is_refused(tmp_path: Path) -> None:
    data = bytearray(_with_fields(tmp_path / "m.gguf").read_bytes())
    key_len = int.from_bytes(data[24:32], "little")
    data[32 + key_len : 36 + key_len] = (99).to_bytes(4, "little")
    with pytest.raises(HeaderError):
        parse_header(bytes(data))
