"""The server's public surface: every tool documented, typed and annotated; both protocols."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp import Client
from securellm.mcp.server import create_server

TOOLS = {
    "knowledge_session_start",
    "knowledge_session_end",
    "knowledge_save",
    "knowledge_search",
    "knowledge_get",
    "knowledge_recent",
    "knowledge_update",
    "knowledge_delete",
    "knowledge_related",
    "nix_flake_metadata",
    "nix_flake_show",
    "nix_flake_check",
    "nix_eval",
    "nix_search",
    "nix_build",
    "cache_stats",
    "provider_test",
    "provider_config_validate",
    "audit_query",
    "vram_status",
    "models_list",
    "security_audit",
    "nix_blueprint",
    "nixos_options_search",
    "nixos_option_info",
    "build_and_test",
    "package_diagnose",
}


async def test_the_tool_list_is_exactly_the_documented_one(harness: Any) -> None:
    async with harness as h:
        listed = await h.client.list_tools()
    assert {tool.name for tool in listed.tools} == TOOLS


async def test_every_tool_has_title_description_schemas_and_annotations(harness: Any) -> None:
    async with harness as h:
        listed = await h.client.list_tools()
    for tool in listed.tools:
        assert tool.title, tool.name
        assert tool.description, tool.name
        assert tool.output_schema, tool.name
        assert tool.input_schema["type"] == "object", tool.name
        hints = tool.annotations
        assert hints is not None, tool.name
        assert hints.read_only_hint is not None, tool.name
        assert hints.destructive_hint is not None, tool.name
        assert hints.idempotent_hint is not None, tool.name
        assert hints.open_world_hint is not None, tool.name


async def test_resource_templates_are_listed(harness: Any) -> None:
    async with harness as h:
        templates = await h.client.list_resource_templates()
    uris = {t.uri_template for t in templates.resource_templates}
    assert uris == {"knowledge://entry/{id}", "knowledge://session/{id}"}


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_both_protocol_generations_are_served(settings: Any, mode: str, version: str) -> None:
    async with Client(create_server(settings), mode=mode) as client:  # type: ignore[arg-type]
        result = await client.call_tool("cache_stats", {})
        assert client.protocol_version == version
    assert result.structured_content["size"] == 0


async def test_unwritable_knowledge_base_leaves_other_tools_working(
    tmp_path: Path, make_harness: Any
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    async with make_harness(knowledge_db_path=str(blocker / "k.db")) as h:
        assert "cannot open the knowledge base" in await h.error("knowledge_recent")
        assert (await h.call("cache_stats"))["size"] == 0
