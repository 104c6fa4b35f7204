"""Tool groups (``[mcp] tools`` / ``--tools``) and the prompts, through the official client."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from mcp.client.stdio import StdioServerParameters

from mcp import Client
from securellm.core.config import McpSettings, Settings
from securellm.mcp.errors import InvalidInputError
from securellm.mcp.run import with_tools

KNOWLEDGE_PROMPTS = {"summarise_session", "recall"}


async def names(harness: Any) -> set[str]:
    async with harness as h:
        listed = await h.client.list_tools()
    return {tool.name for tool in listed.tools}


async def test_only_the_enabled_groups_tools_are_listed(make_harness: Any) -> None:
    listed = await names(make_harness(tools=["nix"]))
    assert "nixos_options_search" in listed
    assert "nix_build" in listed
    assert not any(name.startswith(("knowledge_", "provider_")) for name in listed)


async def test_every_group_together_is_the_default(make_harness: Any) -> None:
    every = await names(make_harness())
    parts = [await names(make_harness(tools=[group])) for group in McpSettings().tools]
    assert set().union(*parts) == every


async def test_a_disabled_tool_cannot_be_called(make_harness: Any) -> None:
    async with make_harness(tools=["stack"]) as h:
        result = await h.client.call_tool("knowledge_save", {"content": "x"})
    assert result.is_error


def test_tools_setting_accepts_a_comma_separated_string() -> None:
    assert McpSettings.model_validate({"tools": "nix, knowledge"}).tools == ("nix", "knowledge")


def test_tools_setting_all_means_every_group() -> None:
    assert McpSettings.model_validate({"tools": ["all"]}).tools == McpSettings().tools


def test_an_unknown_group_in_the_flag_is_refused_with_the_choices(settings: Settings) -> None:
    with pytest.raises(InvalidInputError, match="knowledge, nix, stack, security"):
        with_tools(settings, "knowledge,gpu")


def test_the_flag_replaces_the_configured_groups(settings: Settings) -> None:
    assert with_tools(settings, "security").mcp.tools == ("security",)


def test_an_empty_tools_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one tool group"):
        McpSettings.model_validate({"tools": []})


async def test_prompts_follow_the_enabled_groups(make_harness: Any) -> None:
    async with make_harness(tools=["knowledge"]) as h:
        listed = await h.client.list_prompts()
    assert {prompt.name for prompt in listed.prompts} == KNOWLEDGE_PROMPTS


async def test_audit_prompt_names_the_repository_and_the_tools(make_harness: Any) -> None:
    async with make_harness() as h:
        prompt = await h.client.get_prompt("audit_nixos_repo", {"path": "/etc/nixos"})
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "security_audit" in text
    assert "/etc/nixos" in text


async def test_summarise_prompt_ends_the_given_session(make_harness: Any) -> None:
    async with make_harness() as h:
        prompt = await h.client.get_prompt("summarise_session", {"session_id": "a" * 32})
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "knowledge_save" in text
    assert "knowledge_session_end" in text


async def test_tools_flag_and_prompts_over_stdio(tmp_path: Path) -> None:
    config = tmp_path / "securellm.toml"
    config.write_text(f'data_dir = "{tmp_path}"\nstate_dir = "{tmp_path}"\n')
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "securellm.mcp", "--config", str(config), "--tools", "knowledge"],
        env={"HOME": str(tmp_path), "KNOWLEDGE_DB_PATH": str(tmp_path / "k.db")},
    )
    async with Client(server) as client:
        tools = await client.list_tools()
        prompts = await client.list_prompts()
        recall = await client.get_prompt("recall", {"topic": "nginx"})
    assert {tool.name for tool in tools.tools} >= {"knowledge_save", "knowledge_search"}
    assert all(tool.name.startswith("knowledge_") for tool in tools.tools)
    assert {prompt.name for prompt in prompts.prompts} == KNOWLEDGE_PROMPTS
    assert "nginx" in recall.messages[0].content.text  # type: ignore[union-attr]


async def test_full_tool_schemas_list_every_output_field(make_harness: Any) -> None:
    async with make_harness(tool_schemas="full", tools=["nix"]) as h:
        listed = await h.client.list_tools()
    build = next(tool for tool in listed.tools if tool.name == "nix_build")
    assert build.output_schema is not None
    assert "outputs" in build.output_schema["properties"]


async def test_lean_tool_schemas_still_validate_every_result(make_harness: Any) -> None:
    async with make_harness(tools=["nix"]) as h:
        await h.client.list_tools()  # the client validates results against these schemas
        stats = await h.call("cache_stats")
    assert stats["hits"] == 0


async def test_instructions_name_only_the_enabled_groups_tools(make_harness: Any) -> None:
    async with make_harness(tools=["nix"]) as h:
        text = h.client.instructions or ""
    assert "nixos_options_search" in text
    assert "knowledge_save" not in text
