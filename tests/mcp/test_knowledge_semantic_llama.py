"""Hybrid search with a real model: llama.cpp's server (embeddings on) behind a real gateway.

The bundled Gemma 3 270M is a chat model, not an embedding model: llama.cpp hands back one
vector per token, which the server mean-pools. Its vectors alone put the right note first for
3 of the 13 corpus queries; fused with bm25 they must not cost the keyword ranking anything,
and the issue's bar (11 of 12, here 12 of 13) holds with embeddings on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from securellm.gateway.app import create_app
from securellm.mcp.state import ServerState
from support.asgi_server import serve_app
from support.gateway import MASTER
from support.gateway import make_settings as gateway_settings
from support.llama import MODEL_ALIAS, llama_server
from support.search_corpus import NOTES, QUERIES

pytestmark = pytest.mark.llama
H = Any  # the Harness from conftest
REQUIRED = -(-len(QUERIES) * 11 // 12)


@pytest.fixture(scope="module")
def embedding_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway whose ``local`` provider is llama.cpp's server started with embeddings on."""
    tmp = tmp_path_factory.mktemp("embedding-gateway")
    with llama_server(tmp / "llama.log", "--embedding", "true") as llama_url:
        provider = {"name": "local", "kind": "llamacpp", "base_url": llama_url}
        with serve_app(create_app(gateway_settings(tmp, [provider]))) as url:
            yield url


@pytest.fixture
def llama_semantic(make_state: Any, harness_for: Any, embedding_gateway: str) -> Any:
    extra = {
        "gateway": {"master_key": MASTER},
        "knowledge": {"embedding_model": f"local/{MODEL_ALIAS}", "embedding_retry_s": 0.5},
    }
    state = make_state(extra, gateway_url=embedding_gateway, http_timeout_s=60.0)
    return state, harness_for(state)


async def embedded(state: ServerState, deadline_s: float = 300.0) -> None:
    assert state.semantic is not None
    end = time.monotonic() + deadline_s
    while await anyio.to_thread.run_sync(state.semantic.worker.pending):
        assert time.monotonic() < end, f"entries not embedded: {state.semantic.worker.last_error}"
        await anyio.sleep(0.2)


async def test_the_right_note_ranks_first_with_embeddings_on(llama_semantic: Any) -> None:
    state, harness = llama_semantic
    async with harness as h:
        keys = {}
        for note in NOTES:
            saved = await h.call(
                "knowledge_save",
                content=note.content,
                title=note.title,
                tags=list(note.tags),
                type=note.type,
            )
            keys[saved["id"]] = note.key
        await embedded(state)
        pages = [await h.call("knowledge_search", query=q.text, limit=3) for q in QUERIES]
    assert {page["mode"] for page in pages} == {"hybrid"}
    firsts = [keys[page["hits"][0]["entry"]["id"]] if page["hits"] else None for page in pages]
    right = [q.text for q, first in zip(QUERIES, firsts, strict=True) if first == q.expected]
    assert len(right) >= REQUIRED, f"right first for {len(right)}/{len(QUERIES)}: {right}"


@pytest.fixture(scope="module")
def offload_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway whose ``local`` provider is a real offload serving the bundled Gemma."""
    from securellm.core.config import settings_from_mapping
    from securellm.offload.api import create_app as create_offload

    root = tmp_path_factory.mktemp("auto-embedding")
    section = {
        "model_dirs": [], "ollama_dir": None, "huggingface_dir": None,
        "include_bundled": True, "registry_path": str(root / "registry.db"),
        "gpu": "simulated", "simulated_vram_mib": 4096, "default_ctx": 512, "gpu_units": [],
    }  # fmt: skip
    raw = {"data_dir": str(root / "o"), "state_dir": str(root / "os"),
           "log_dir": str(root / "ol"), "offload": section}  # fmt: skip
    with serve_app(create_offload(settings_from_mapping(raw, env={}))) as offload_url:
        provider = {"name": "local", "kind": "offload", "base_url": f"{offload_url}/v1"}
        with serve_app(create_app(gateway_settings(root, [provider]))) as url:
            yield url


async def test_auto_embeds_with_the_local_offload_model_without_configuration(
    make_state: Any, harness_for: Any, offload_gateway: str
) -> None:
    extra = {"gateway": {"master_key": MASTER}, "knowledge": {"embedding_retry_s": 0.5}}
    state = make_state(extra, gateway_url=offload_gateway, http_timeout_s=60.0)
    async with harness_for(state) as h:
        await h.call("knowledge_save", content="the car needs new tyres before winter")
        await embedded(state)
        page = await h.call("knowledge_search", query="car tyres")
    assert state.semantic is not None
    assert state.semantic.index.model == "local/gemma-3-270m"
    assert page["mode"] == "hybrid"
