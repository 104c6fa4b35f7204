"""Claude Code (``claude -p``) through the gateway's Anthropic dialect, to every upstream kind.

Claude Code reads ``ANTHROPIC_BASE_URL`` / ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_MODEL`` (and
the small-model variables for its side calls); ``-p ... --output-format json`` runs one
task headless and prints a result object; ``--allowedTools Bash`` lets its Bash tool run
without a prompt (``--dangerously-skip-permissions`` is refused as root). Telemetry, error
reporting and the auto-updater are off by their documented variables.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.agent_audit import assert_session_clean, request_records
from support.agent_gateway import (
    AgentGateway,
    agent_gateway,
    client_binary,
    client_env,
    local_gateway,
    run_client,
)
from support.scripted.script import FINAL_MARKER, SENTINEL_FILE, SENTINEL_TEXT

pytestmark = pytest.mark.agents
LOCAL_FIT = ("--system-prompt", "You are a helpful assistant.", "--tools", "")
PROMPT = f"Use the Bash tool to write {SENTINEL_TEXT} into {SENTINEL_FILE}."


def run_claude(gateway: AgentGateway, tmp_path: Path, *extra: str) -> tuple[dict[str, Any], Path]:
    work = tmp_path / "work"
    work.mkdir()
    env = client_env(
        tmp_path / "home",
        ANTHROPIC_BASE_URL=gateway.anthropic_base,
        ANTHROPIC_API_KEY=gateway.key,
        ANTHROPIC_MODEL=gateway.model,
        ANTHROPIC_SMALL_FAST_MODEL=gateway.model,
        ANTHROPIC_DEFAULT_HAIKU_MODEL=gateway.model,
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        DISABLE_AUTOUPDATER="1",
    )
    claude = client_binary("npm", "node_modules", ".bin", "claude")
    argv = [str(claude), "-p", PROMPT, "--output-format", "json",
            "--allowedTools", "Bash", *extra]  # fmt: skip
    done = run_client(argv, work, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result, work


@pytest.mark.parametrize("kind", ["anthropic", "deepseek", "openai-compatible"])
def test_claude_code_runs_its_bash_tool_and_finishes(tmp_path: Path, kind: str) -> None:
    with agent_gateway(tmp_path, kind) as gateway:
        result, work = run_claude(gateway, tmp_path)
        assert result["is_error"] is False
        assert FINAL_MARKER in result["result"]
        assert (work / SENTINEL_FILE).read_text() == SENTINEL_TEXT
        assert_session_clean(gateway, kind)


def test_claude_code_on_a_deepseek_model_has_zero_4xx_in_a_whole_session(tmp_path: Path) -> None:
    # The check: every call of the session (first one included, side calls too) is
    # answered without a client error, so Claude Code never needs a retry.
    with agent_gateway(tmp_path, "deepseek") as gateway:
        result, _ = run_claude(gateway, tmp_path)
        records = request_records(gateway)
        assert result["num_turns"] >= 2
        assert [r["status"] for r in records if r["status"] >= 400] == []
        assert {r["provider"] for r in records} == {"ds"}
        assert_session_clean(gateway, "deepseek")


@pytest.mark.llama
def test_claude_code_finishes_on_the_local_model_without_a_4xx(
    tmp_path: Path, llama_url: str
) -> None:
    # A 270M model cannot be trusted to call tools: only the run and the statuses are checked.
    # The test server's context is 2048 tokens: Claude Code's own system prompt and tool
    # schemas (about 19k tokens) are replaced by a short prompt and no tools.
    with local_gateway(tmp_path, llama_url) as gateway:
        run_claude(gateway, tmp_path, "--max-turns", "2", *LOCAL_FIT)
        records = request_records(gateway)
        assert records != []
        assert [(r["status"], r["error"]) for r in records if r["status"] >= 400] == []
