"""Ollama tags that share one blob (``gemma3:270m``, ``gemma3:latest``) are each an id."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from securellm.core.config import Settings
from securellm.offload.api import create_app
from securellm.offload.discovery import discover
from securellm.offload.registry import Registry
from support.require import missing

from .conftest import TinyWriter, write_loadable_llama

DIGEST = "sha256:" + "ef" * 32


def _store(root: Path, tiny_gguf: TinyWriter, tags: tuple[str, ...]) -> Path:
    """An Ollama store whose manifests for ``gemma3:<tag>`` all point at one GGUF blob."""
    (root / "blobs").mkdir(parents=True, exist_ok=True)
    tiny_gguf(root / "blobs" / DIGEST.replace(":", "-"))
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": DIGEST, "size": 1}
    for tag in tags:
        manifest = root / "manifests/registry.ollama.ai/library/gemma3" / tag
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({"schemaVersion": 2, "layers": [layer]}))
    return root


def test_discovery_keeps_every_tag_of_a_shared_blob(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    store = _store(tmp_path / "ollama", tiny_gguf, ("270m", "latest"))
    found = discover((), store, None)
    assert sorted(c.id_hint for c in found) == ["gemma3:270m", "gemma3:latest"]
    assert len({c.path for c in found}) == 1


def test_registry_lists_both_tags_as_ids_of_one_file(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    store = _store(tmp_path / "ollama", tiny_gguf, ("270m", "latest"))
    registry = Registry(tmp_path / "registry.db")
    registry.scan(discover((), store, None))
    records = registry.all()
    assert [r.id for r in records] == ["gemma3:270m", "gemma3:latest"]
    assert records[0].path == records[1].path
    assert all(r.usable for r in records)


def test_rescan_keeps_both_tags_unchanged(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    store = _store(tmp_path / "ollama", tiny_gguf, ("270m", "latest"))
    registry = Registry(tmp_path / "registry.db")
    registry.scan(discover((), store, None))
    report = registry.scan(discover((), store, None))
    assert (report.unchanged, report.added, report.removed) == (2, 0, 0)


def test_removing_one_tag_removes_only_that_id(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    store = _store(tmp_path / "ollama", tiny_gguf, ("270m", "latest"))
    registry = Registry(tmp_path / "registry.db")
    registry.scan(discover((), store, None))
    (store / "manifests/registry.ollama.ai/library/gemma3/latest").unlink()
    report = registry.scan(discover((), store, None))
    assert report.removed == 1
    assert [r.id for r in registry.all()] == ["gemma3:270m"]


def test_a_registry_from_before_tags_is_rebuilt(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    path = tmp_path / "registry.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE models (id TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE)")
    old.close()
    store = _store(tmp_path / "ollama", tiny_gguf, ("270m", "latest"))
    registry = Registry(path)
    assert registry.scan(discover((), store, None)).added == 2


def test_every_tag_is_addressable_on_the_api(
    tmp_path: Path, tiny_gguf: TinyWriter, make_settings: Callable[..., Settings]
) -> None:
    store = _store(tmp_path / "ollama", tiny_gguf, ("270m", "latest"))
    settings = make_settings(ollama_dir=str(store), simulated_vram_mib=4096)
    with TestClient(create_app(settings)) as client:
        listed = [m["id"] for m in client.get("/v1/models").json()["data"]]
        shown = [client.get(f"/models/{tag}").status_code for tag in listed]
    assert listed == ["gemma3:270m", "gemma3:latest"]
    assert shown == [200, 200]


@pytest.mark.llama
def test_both_tags_load_and_answer_through_the_real_server(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    store = _store(tmp_path / "ollama", lambda path: write_loadable_llama(path), ("270m", "latest"))
    settings = make_settings(ollama_dir=str(store), simulated_vram_mib=4096, default_ctx=256)
    body = {"prompt": "Hello", "max_tokens": 2}
    with TestClient(create_app(settings)) as client:
        answers = [
            client.post("/v1/completions", json={**body, "model": tag}).json()
            for tag in ("gemma3:270m", "gemma3:latest")
        ]
        loaded = sorted(s["model"] for s in client.get("/health/vram").json()["loaded"])
    assert [a["model"] for a in answers] == ["gemma3:270m", "gemma3:latest"]
    assert loaded == ["gemma3:270m", "gemma3:latest"]
