"""Codex CLI (``codex exec``) through the gateway's Responses API, to every upstream kind.

Codex reads ``$CODEX_HOME/config.toml``: a ``[model_providers.securellm]`` entry with the
gateway's ``/v1`` URL, ``wire_api = "responses"`` (the only wire Codex speaks) and
``env_key`` naming the variable that holds the virtual key. ``exec`` runs one task headless
and prints the last message; ``--dangerously-bypass-approvals-and-sandbox`` runs its commands
without approvals and outside its Landlock/seccomp sandbox, which this container does not
give it (the test's temp working directory stands in for the sandbox).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

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
PROMPT = f"Use the shell to write {SENTINEL_TEXT} into {SENTINEL_FILE}."


def config_toml(gateway: AgentGateway, instructions: Path | None = None) -> str:
    head = f'model_instructions_file = "{instructions}"\n' if instructions else ""
    return head + (
        f'model = "{gateway.model}"\nmodel_provider = "securellm"\n'
        "check_for_update_on_startup = false\n\n[analytics]\nenabled = false\n\n"
        '[model_providers.securellm]\nname = "securellm gateway"\n'
        f'base_url = "{gateway.openai_base}"\nenv_key = "SECURELLM_API_KEY"\n'
        'wire_api = "responses"\n'
    )


def run_codex(
    gateway: AgentGateway, tmp_path: Path, short: bool = False, prompt: str = PROMPT
) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    work.mkdir()
    codex_home = tmp_path / "home" / ".codex"
    codex_home.mkdir(parents=True)
    instructions = None
    if short:
        instructions = tmp_path / "instructions.md"
        instructions.write_text("You are a helpful assistant.\n")
    (codex_home / "config.toml").write_text(config_toml(gateway, instructions))
    env = client_env(tmp_path / "home", SECURELLM_API_KEY=gateway.key, CODEX_HOME=str(codex_home))
    codex = client_binary("npm", "node_modules", ".bin", "codex")
    argv = [str(codex), "exec", "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox", prompt]  # fmt: skip
    return run_client(argv, work, env)


@pytest.mark.parametrize("kind", ["openai", "openai-compatible", "deepseek", "anthropic"])
def test_codex_runs_its_shell_tool_over_the_responses_api(tmp_path: Path, kind: str) -> None:
    with agent_gateway(tmp_path, kind) as gateway:
        done = run_codex(gateway, tmp_path)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert FINAL_MARKER in done.stdout
        work = tmp_path / "work"
        assert (work / SENTINEL_FILE).read_text() == SENTINEL_TEXT
        assert {r.dialect for r in gateway.upstream.generations} == {
            "responses" if kind == "openai" else "messages" if kind == "anthropic" else "chat"
        }
        assert_session_clean(gateway, kind)


@pytest.mark.llama
def test_codex_finishes_on_the_local_model_without_a_4xx(tmp_path: Path, llama_url: str) -> None:
    # A 270M model cannot be trusted to call tools: only the run and the statuses are checked.
    # The test server's context is 2048 tokens: Codex's own instructions are replaced by one line.
    # The model may also ramble until the output limit: Codex then ends with its own
    # "Incomplete response returned, reason: max_output_tokens" (exit 1), which is the
    # model's length, not a gateway error; any other failure fails the test.
    with local_gateway(tmp_path, llama_url) as gateway:
        done = run_codex(gateway, tmp_path, short=True, prompt="Reply with the word OK.")
        ran_out = "Incomplete response returned, reason: max_output_tokens" in done.stderr
        assert done.returncode == 0 or ran_out, done.stdout[-3000:] + done.stderr[-3000:]
        records = request_records(gateway)
        assert records != []
        assert [(r["status"], r["error"]) for r in records if r["status"] >= 400] == []
