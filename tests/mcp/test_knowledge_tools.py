"""The knowledge tools and resources through the SDK's in-memory client."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

H = Any  # the Harness fixture from conftest


async def test_session_flow_groups_entries(harness: H) -> None:
    async with harness as h:
        session = await h.call("knowledge_session_start", agent="claude-code", project="demo")
        entry = await h.call(
            "knowledge_save",
            content="nix flake lock pins inputs",
            type="decision",
            session_id=session["id"],
            tags=["nix"],
        )
        assert entry["project"] == "demo"
        ended = await h.call("knowledge_session_end", session_id=session["id"], summary="done")
    assert ended["entry_count"] == 1


async def test_search_tool_returns_ranked_hits_with_snippets(harness: H) -> None:
    async with harness as h:
        await h.call("knowledge_save", content="restart the gateway after key rotation")
        page = await h.call("knowledge_search", query="rotation")
    assert page["hits"][0]["snippet"].count("[rotation]") == 1


async def test_search_tool_filters_by_type(harness: H) -> None:
    async with harness as h:
        await h.call("knowledge_save", content="flaky test", type="error")
        await h.call("knowledge_save", content="flaky network", type="note")
        page = await h.call("knowledge_search", query="flaky", types=["error"])
    assert [hit["entry"]["type"] for hit in page["hits"]] == ["error"]


async def test_get_update_delete_round_trip(harness: H) -> None:
    async with harness as h:
        entry = await h.call("knowledge_save", content="v1")
        assert (await h.call("knowledge_update", id=entry["id"], content="v2"))["content"] == "v2"
        assert (await h.call("knowledge_get", id=entry["id"]))["content"] == "v2"
        assert (await h.call("knowledge_delete", id=entry["id"]))["deleted"] is True
        assert "does not exist" in await h.error("knowledge_get", id=entry["id"])


async def test_recent_tool_pages_newest_first(harness: H) -> None:
    async with harness as h:
        for n in range(3):
            await h.call("knowledge_save", content=f"item {n}")
        page = await h.call("knowledge_recent", limit=2)
    assert [e["content"] for e in page["entries"]] == ["item 2", "item 1"]
    assert page["next_offset"] == 2


async def test_unknown_entry_type_is_refused(harness: H) -> None:
    async with harness as h:
        assert "type" in await h.error("knowledge_save", content="x", type="secret")


async def test_oversized_content_is_refused_and_nothing_saved(harness: H) -> None:
    async with harness as h:
        assert "content" in await h.error("knowledge_save", content="x" * 1_000_001)
        assert (await h.call("knowledge_recent"))["entries"] == []


async def test_lone_surrogate_is_refused_as_invalid_utf8(harness: H) -> None:
    async with harness as h:
        text = await h.error("knowledge_save", content="bad \ud800 text")
        assert (await h.call("knowledge_recent"))["entries"] == []
    assert "content" in text
    assert "unicode" in text.lower()


async def test_malformed_session_id_is_refused(harness: H) -> None:
    async with harness as h:
        text = await h.error("knowledge_session_end", session_id="../../etc/passwd" + "x" * 16)
    assert "32-character hex" in text


async def test_too_many_tags_are_refused(harness: H) -> None:
    async with harness as h:
        assert "tags" in await h.error(
            "knowledge_save", content="x", tags=[str(n) for n in range(40)]
        )


async def test_oversized_metadata_is_refused(harness: H) -> None:
    async with harness as h:
        text = await h.error("knowledge_save", content="x", metadata={"k": "v" * 70_000})
    assert "metadata is larger" in text


async def test_entry_resource_serves_the_entry_as_json(harness: H) -> None:
    async with harness as h:
        entry = await h.call("knowledge_save", content="via resource")
        result = await h.client.read_resource(f"knowledge://entry/{entry['id']}")
    assert json.loads(result.contents[0].text)["content"] == "via resource"


async def test_session_resource_lists_its_entries(harness: H) -> None:
    async with harness as h:
        session = await h.call("knowledge_session_start", agent="a")
        await h.call("knowledge_save", content="inside", session_id=session["id"])
        result = await h.client.read_resource(f"knowledge://session/{session['id']}")
    body = json.loads(result.contents[0].text)
    assert [e["content"] for e in body["entries"]] == ["inside"]


async def test_missing_entry_resource_is_a_protocol_error(harness: H) -> None:
    async with harness as h:
        with pytest.raises(MCPError, match="does not exist"):
            await h.client.read_resource("knowledge://entry/424242")


async def test_locked_database_is_a_tool_error_not_a_crash(make_harness: H, tmp_path: Path) -> None:
    async with make_harness(knowledge_busy_timeout_ms=100) as h:
        await h.call("knowledge_save", content="before the lock")
        blocker = sqlite3.connect(tmp_path / "knowledge.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            text = await h.error("knowledge_save", content="while locked")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert (await h.call("knowledge_get", id=1))["content"] == "before the lock"
    assert "locked" in text


@pytest.mark.parametrize(
    "uri",
    [
        "knowledge://entry/..%2F..%2Fetc%2Fpasswd",
        "knowledge://entry/1;DROP",
        "knowledge://session/x",
    ],
)
async def test_hostile_resource_uris_are_refused(harness: H, uri: str) -> None:
    async with harness as h:
        with pytest.raises(MCPError):
            await h.client.read_resource(uri)
