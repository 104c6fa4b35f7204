"""The official MCP Inspector CLI (from npm) lists and calls our tools over stdio."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.require import missing

INSPECTOR = "@modelcontextprotocol/inspector@0.15.0"


def inspector(tmp_path: Path, *method_args: str) -> dict[str, object]:
    npx = shutil.which("npx")
    if npx is None:
        missing("npx (Node.js)")
    command = [
        npx,
        "--yes",
        INSPECTOR,
        "--cli",
        "-e",
        f"KNOWLEDGE_DB_PATH={tmp_path / 'knowledge.db'}",
        "-e",
        f"XDG_STATE_HOME={tmp_path / 'state'}",
        sys.executable,
        "-m",
        "securellm.mcp",
        *method_args,
    ]
    env = {**os.environ, "npm_config_update_notifier": "false"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=240, check=False, cwd=tmp_path
        )
    except subprocess.TimeoutExpired:
        missing("the MCP Inspector from npm (timed out fetching it)")
    if done.returncode != 0 and "ERR!" in done.stderr:
        missing(f"the MCP Inspector from npm ({done.stderr.strip().splitlines()[-1]})")
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.timeout(300)
def test_inspector_lists_every_tool(tmp_path: Path) -> None:
    listed = inspector(tmp_path, "--method", "tools/list")
    names = {tool["name"] for tool in listed["tools"]}  # type: ignore[attr-defined]
    assert {
        "knowledge_save",
        "knowledge_search",
        "nix_build",
        "provider_test",
        "security_audit",
        "cache_stats",
    } <= names


@pytest.mark.timeout(300)
def test_inspector_calls_a_tool_and_reads_structured_output(tmp_path: Path) -> None:
    called = inspector(
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "knowledge_save",
        "--tool-arg",
        "content=saved by the inspector",
        "--tool-arg",
        "type=decision",
    )
    assert called["structuredContent"]["type"] == "decision"  # type: ignore[index]
