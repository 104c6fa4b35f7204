"""Hybrid search through a real gateway's /v1/embeddings (the upstream model is a fake that
speaks OpenAI's wire format: these tests are about the plumbing, not about search quality)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.stdio import StdioServerParameters

from mcp import Client
from securellm.gateway.app import create_app
from securellm.mcp.state import ServerState
from support.asgi_server import serve_app
from support.fake_embeddings import FakeEmbeddings
from support.gateway import MASTER, UPSTREAM_KEY
from support.gateway import make_settings as gateway_settings
from support.require import free_port

MODEL = "fake/embed"
NOTES = [
    "my car needs new tyres before winter",
    "the laptop battery drains overnight",
    "the build server ran out of disk space",
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeEmbeddings]:
    fake = FakeEmbeddings()
    with serve_app(fake.app()) as url:
        fake.url = f"{url}/v1"  # type: ignore[attr-defined]
        yield fake


def gateway_app(tmp_path: Path, upstream: FakeEmbeddings) -> Any:
    provider = {
        "name": "fake",
        "kind": "openai-compatible",
        "base_url": upstream.url,  # type: ignore[attr-defined]
        "api_key": UPSTREAM_KEY,
    }
    return create_app(gateway_settings(tmp_path / "gateway", [provider]))


@pytest.fixture
def gateway(tmp_path: Path, upstream: FakeEmbeddings) -> Iterator[str]:
    with serve_app(gateway_app(tmp_path, upstream)) as url:
        yield url


H = Any  # the Harness from conftest


@pytest.fixture
def semantic(make_state: Any, harness_for: Any) -> Any:
    """``semantic(gateway_url)``: (state, harness) of a server with an embedding model set."""

    def make(gateway_url: str) -> tuple[ServerState, H]:
        extra = {
            "gateway": {"master_key": MASTER},
            "knowledge": {"embedding_model": MODEL, "embedding_retry_s": 0.1},
        }
        state = make_state(extra, gateway_url=gateway_url, breaker_reset_s=0.1)
        return state, harness_for(state)

    return make


async def embedded(state: ServerState, deadline_s: float = 30.0) -> None:
    """Wait until the background embedder has no pending entry (fails after the deadline)."""
    assert state.semantic is not None
    end = time.monotonic() + deadline_s
    while await anyio.to_thread.run_sync(state.semantic.worker.pending):
        assert time.monotonic() < end, "entries were not embedded"
        await anyio.sleep(0.05)


async def save_notes(h: H) -> list[int]:
    return [(await h.call("knowledge_save", content=text))["id"] for text in NOTES]


async def test_search_with_embeddings_off_is_keyword_and_says_why(
    make_state: Any, harness_for: Any
) -> None:
    state = make_state({"knowledge": {"embedding_model": "off"}})
    async with harness_for(state) as h:
        await save_notes(h)
        page = await h.call("knowledge_search", query="car")
    assert (page["mode"], page["keyword_reason"]) == (
        "keyword",
        "no embedding model configured ([knowledge] embedding_model)",
    )


async def test_auto_without_a_gateway_is_keyword_and_says_why(harness: H) -> None:
    async with harness as h:
        await save_notes(h)
        page = await h.call("knowledge_search", query="car")
    assert page["mode"] == "keyword"
    assert page["keyword_reason"].startswith("embedding_model auto: cannot list")


async def test_auto_picks_the_model_whose_name_says_embed(
    make_state: Any, harness_for: Any, gateway: str
) -> None:
    extra = {"gateway": {"master_key": MASTER}, "knowledge": {"embedding_retry_s": 0.1}}
    state = make_state(extra, gateway_url=gateway, breaker_reset_s=0.1)
    async with harness_for(state) as h:
        car, *_ = await save_notes(h)
        await embedded(state)
        page = await h.call("knowledge_search", query="automobile")
    assert state.semantic is not None
    assert state.semantic.index.model == MODEL
    assert (page["mode"], page["hits"][0]["entry"]["id"]) == ("hybrid", car)


async def test_hybrid_search_finds_a_paraphrase_no_keyword_matches(
    semantic: Any, gateway: str
) -> None:
    state, harness = semantic(gateway)
    async with harness as h:
        car, *_ = await save_notes(h)
        await embedded(state)
        page = await h.call("knowledge_search", query="automobile")
    assert page["mode"] == "hybrid"
    assert page["hits"][0]["entry"]["id"] == car


async def test_hybrid_search_ranks_an_entry_both_lists_find_first(
    semantic: Any, gateway: str
) -> None:
    state, harness = semantic(gateway)
    async with harness as h:
        _, _, disk = await save_notes(h)
        await embedded(state)
        page = await h.call("knowledge_search", query="disk capacity", mode="any")
    assert page["hits"][0]["entry"]["id"] == disk


async def test_hybrid_search_keeps_the_filters(semantic: Any, gateway: str) -> None:
    state, harness = semantic(gateway)
    async with harness as h:
        await save_notes(h)
        todo = await h.call("knowledge_save", content="take the vehicle in", type="todo")
        await embedded(state)
        page = await h.call("knowledge_search", query="automobile", types=["todo"])
    assert [hit["entry"]["id"] for hit in page["hits"]] == [todo["id"]]


async def test_gateway_down_answers_by_keyword_and_says_why(semantic: Any) -> None:
    _, harness = semantic(f"http://127.0.0.1:{free_port()}")
    async with harness as h:
        await save_notes(h)
        page = await h.call("knowledge_search", query="car")
    assert page["mode"] == "keyword"
    assert "gateway unreachable" in page["keyword_reason"]
    assert [hit["entry"]["content"] for hit in page["hits"]] == [NOTES[0]]


async def test_failing_upstream_model_answers_by_keyword(
    semantic: Any, gateway: str, upstream: FakeEmbeddings
) -> None:
    _, harness = semantic(gateway)
    upstream.fail = True
    try:
        async with harness as h:
            await save_notes(h)
            page = await h.call("knowledge_search", query="car")
    finally:
        upstream.fail = False
    assert (page["mode"], len(page["hits"])) == ("keyword", 1)


async def test_entry_saved_while_gateway_down_is_embedded_when_it_returns(
    semantic: Any, tmp_path: Path, upstream: FakeEmbeddings
) -> None:
    port = free_port()
    state, harness = semantic(f"http://127.0.0.1:{port}")
    async with harness as h:
        car, *_ = await save_notes(h)
        assert state.semantic is not None
        assert await anyio.to_thread.run_sync(state.semantic.worker.pending) == len(NOTES)
        with serve_app(gateway_app(tmp_path, upstream), port=port):
            await embedded(state)
            page = await h.call("knowledge_search", query="automobile")
    assert (page["mode"], page["hits"][0]["entry"]["id"]) == ("hybrid", car)


async def test_an_edited_entry_is_found_by_its_new_meaning(semantic: Any, gateway: str) -> None:
    state, harness = semantic(gateway)
    async with harness as h:
        _, laptop, _ = await save_notes(h)
        await embedded(state)
        await h.call("knowledge_update", id=laptop, content="the van was fixed on friday")
        await embedded(state)
        page = await h.call("knowledge_search", query="repaired")
    assert page["hits"][0]["entry"]["id"] == laptop


async def test_a_deleted_entry_is_not_found_by_meaning(semantic: Any, gateway: str) -> None:
    state, harness = semantic(gateway)
    async with harness as h:
        car, *_ = await save_notes(h)
        await embedded(state)
        await h.call("knowledge_delete", id=car)
        page = await h.call("knowledge_search", query="automobile")
    assert car not in [hit["entry"]["id"] for hit in page["hits"]]


def stdio_params(tmp_path: Path, gateway_url: str) -> StdioServerParameters:
    config = tmp_path / "securellm.toml"
    config.write_text(
        f'[mcp]\ngateway_url = "{gateway_url}"\n[gateway]\nmaster_key = "{MASTER}"\n'
        f'[knowledge]\nembedding_model = "{MODEL}"\nembedding_retry_s = 0.1\n'
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "KNOWLEDGE_DB_PATH": str(tmp_path / "knowledge.db"),
    }
    args = ["-m", "securellm.mcp", "--config", str(config)]
    return StdioServerParameters(command=sys.executable, args=args, env=env)


async def test_hybrid_search_answers_over_stdio(tmp_path: Path, gateway: str) -> None:
    async with Client(stdio_params(tmp_path, gateway)) as client:
        for text in NOTES:
            assert not (await client.call_tool("knowledge_save", {"content": text})).is_error
        end = time.monotonic() + 30
        while True:  # the server process embeds in the background
            found = await client.call_tool("knowledge_search", {"query": "automobile"})
            page = found.structured_content
            if (page["mode"] == "hybrid" and page["hits"]) or time.monotonic() > end:
                break
            await anyio.sleep(0.1)
    assert (page["mode"], page["hits"][0]["entry"]["content"]) == ("hybrid", NOTES[0])


async def test_a_repeated_query_is_embedded_once(
    semantic: Any, gateway: str, upstream: FakeEmbeddings
) -> None:
    state, harness = semantic(gateway)
    async with harness as h:
        await save_notes(h)
        await embedded(state)
        for _ in range(3):
            page = await h.call("knowledge_search", query="vehicle repaired twice")
    assert page["mode"] == "hybrid"
    assert upstream.inputs.count("vehicle repaired twice") == 1
