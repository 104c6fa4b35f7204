"""Finding models: GGUF folders, Ollama manifests + blobs, the Hugging Face cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from securellm.offload.discovery import discover, readable_id, scan_huggingface, scan_ollama

from .conftest import TinyWriter


@pytest.mark.parametrize(
    ("stem", "short"),
    [
        ("gemma-3-270m-q4_k_m", "gemma-3-270m"),
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M", "meta-llama-3.1-8b-instruct"),
        ("qwen2.5-7b-instruct-iq4_xs", "qwen2.5-7b-instruct"),
        ("mistral-7b.F16", "mistral-7b"),
        ("model name with spaces", "model-name-with-spaces"),
    ],
)
def test_readable_id_drops_the_quantisation(stem: str, short: str) -> None:
    assert readable_id(stem)[0] == short


def test_split_models_are_found_once(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    tiny_gguf(tmp_path / "big-00001-of-00002.gguf")
    tiny_gguf(tmp_path / "big-00002-of-00002.gguf")
    found = discover((tmp_path,), None, None)
    assert [c.id_hint for c in found] == ["big"]


def _ollama_store(root: Path, blob_bytes: bytes | None) -> str:
    digest = "sha256:" + "ab" * 32
    manifest = root / "manifests/registry.ollama.ai/library/llama3.2/3b"
    manifest.parent.mkdir(parents=True)
    layers = [
        {"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": 10},
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "cd" * 32},
    ]
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))
    if blob_bytes is not None:
        (root / "blobs").mkdir()
        (root / "blobs" / digest.replace(":", "-")).write_bytes(blob_bytes)
    return digest


def test_ollama_manifest_points_at_its_model_blob(tmp_path: Path) -> None:
    digest = _ollama_store(tmp_path, b"GGUF")
    [found] = list(scan_ollama(tmp_path))
    assert found.id_hint == "llama3.2:3b"
    assert found.path == tmp_path / "blobs" / digest.replace(":", "-")
    assert found.problem is None


def test_ollama_missing_blob_is_reported(tmp_path: Path) -> None:
    _ollama_store(tmp_path, None)
    [found] = list(scan_ollama(tmp_path))
    assert found.problem is not None
    assert "missing" in found.problem


def test_huggingface_cache_gguf_is_found(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    snapshot = tmp_path / "models--org--tiny-GGUF" / "snapshots" / "abc123"
    tiny_gguf(snapshot / "tiny-Q8_0.gguf")
    [found] = list(scan_huggingface(tmp_path))
    assert (found.format, found.id_hint) == ("hf", "tiny")


def test_huggingface_safetensors_repo_is_listed_unusable(tmp_path: Path) -> None:
    snapshot = tmp_path / "models--org--Bert" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes(b"x")
    [found] = list(scan_huggingface(tmp_path))
    assert found.problem is not None
    assert "no GGUF" in found.problem
