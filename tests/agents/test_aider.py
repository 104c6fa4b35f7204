"""aider (``aider --message ... --yes-always``) through the gateway: the file it was given changes.

aider offers no tools: it asks for edits in its own text formats. An unknown model gets the
"whole" format (the file's name on a line, then its whole new content in a fence), so the
script answers with that listing for :data:`EDITED` and the final marker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.agent_gateway import (
    AgentGateway,
    agent_gateway,
    assert_no_4xx,
    assert_task_done,
    client_binary,
    client_env,
    local_gateway,
    logged_errors,
    run_client,
)
from support.scripted.script import FINAL_MARKER, SENTINEL_TEXT, Reply, Turn

pytestmark = pytest.mark.agents
EDITED = "notes.txt"
BEFORE = "an old line\n"
PROMPT = f"Replace the whole content of {EDITED} with the single line {SENTINEL_TEXT}."
# No model-price download from GitHub, no update check, no analytics.
QUIET = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "AIDER_ANALYTICS": "false"}
FLAGS = ["--yes-always", "--no-git", "--no-check-update", "--no-show-model-warnings",
         "--analytics-disable", "--no-auto-commits", "--no-pretty", "--no-stream",
         "--no-show-release-notes"]  # fmt: skip


def aider_script(turn: Turn) -> Reply:
    """The whole-format listing that rewrites :data:`EDITED`, then the marker."""
    return Reply("final", f"{EDITED}\n```\n{SENTINEL_TEXT}\n```\n\n{FINAL_MARKER}")


def run_aider(gateway: AgentGateway, tmp_path: Path, dialect: str) -> tuple[str, Path]:
    work = tmp_path / "work"
    work.mkdir()
    (work / EDITED).write_text(BEFORE)
    if dialect == "anthropic":
        env = client_env(tmp_path / "home", ANTHROPIC_API_BASE=gateway.anthropic_base, **QUIET)
        model = ["--model", f"anthropic/{gateway.model}", "--anthropic-api-key", gateway.key]
    else:
        env = client_env(tmp_path / "home", **QUIET)
        model = ["--model", f"openai/{gateway.model}", "--openai-api-base",
                 gateway.openai_base, "--openai-api-key", gateway.key]  # fmt: skip
    aider = str(client_binary("aider", "bin", "aider"))
    done = run_client([aider, *model, *FLAGS, "--message", PROMPT, EDITED], work, env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, work


@pytest.mark.parametrize("kind", ["openai-compatible", "deepseek", "openai"])
def test_aider_openai_model_edits_the_file_through_the_gateway(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str
) -> None:
    with agent_gateway(tmp_path, kind, aider_script) as gateway:
        output, work = run_aider(gateway, tmp_path, "openai")
        assert_task_done(gateway, output, work, capfd.readouterr().out, EDITED)


def test_aider_anthropic_model_edits_the_file_through_the_gateway(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with agent_gateway(tmp_path, "anthropic", aider_script) as gateway:
        output, work = run_aider(gateway, tmp_path, "anthropic")
        assert_task_done(gateway, output, work, capfd.readouterr().out, EDITED)


@pytest.mark.llama
def test_aider_finishes_a_task_on_the_local_model_without_a_4xx(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], llama_url: str
) -> None:
    # A 270M model cannot be trusted to follow the edit format: the run and statuses only.
    with local_gateway(tmp_path, llama_url) as gateway:
        run_aider(gateway, tmp_path, "openai")
        assert gateway.audit() != []
        assert_no_4xx(gateway)
        assert logged_errors(capfd.readouterr().out) == []
