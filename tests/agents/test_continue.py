"""Continue CLI (``cn -p``) through the gateway: its Bash tool runs, the task finishes.

Continue reads a ``config.yaml`` naming each model's provider (``openai`` or ``anthropic``)
and ``apiBase`` (with ``/v1`` for both: Continue appends ``messages`` to an Anthropic
apiBase); ``-p`` runs one prompt headless, ``--auto`` lets its tools run unasked.
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
from support.scripted.script import SENTINEL_FILE, SENTINEL_TEXT

pytestmark = pytest.mark.agents
PROMPT = f"Use a shell command to write {SENTINEL_TEXT} into {SENTINEL_FILE}."


def config_yaml(gateway: AgentGateway, provider: str) -> str:
    return (
        "name: securellm\nversion: 1.0.0\nschema: v1\nmodels:\n"
        f"  - name: gateway\n    provider: {provider}\n    model: {gateway.model}\n"
        f"    apiBase: {gateway.openai_base}\n"
        f"    apiKey: {gateway.key}\n    roles: [chat, edit, apply]\n"
    )


def run_continue(gateway: AgentGateway, tmp_path: Path, provider: str) -> tuple[str, Path]:
    work = tmp_path / "work"
    work.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(config_yaml(gateway, provider))
    env = client_env(tmp_path / "home", CONTINUE_CLI_DISABLE_TELEMETRY="1")
    argv = [str(client_binary("npm", "node_modules", ".bin", "cn")),
            "-p", "--config", str(config), "--auto", PROMPT]  # fmt: skip
    done = run_client(argv, work, env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, work


@pytest.mark.parametrize("kind", ["openai-compatible", "deepseek", "openai"])
def test_continue_openai_provider_runs_its_bash_tool_through_the_gateway(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str
) -> None:
    with agent_gateway(tmp_path, kind) as gateway:
        output, work = run_continue(gateway, tmp_path, "openai")
        assert_task_done(gateway, output, work, capfd.readouterr().out)


def test_continue_anthropic_provider_runs_its_bash_tool_through_the_gateway(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with agent_gateway(tmp_path, "anthropic") as gateway:
        output, work = run_continue(gateway, tmp_path, "anthropic")
        assert_task_done(gateway, output, work, capfd.readouterr().out)


@pytest.mark.llama
def test_continue_finishes_a_task_on_the_local_model_without_a_4xx(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], llama_url: str
) -> None:
    # A 270M model cannot be trusted to call tools: only the run and the statuses are checked.
    with local_gateway(tmp_path, llama_url) as gateway:
        run_continue(gateway, tmp_path, "openai")
        assert gateway.audit() != []
        assert_no_4xx(gateway)
        assert logged_errors(capfd.readouterr().out) == []
