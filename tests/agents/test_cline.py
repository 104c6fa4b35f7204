"""Cline CLI (``cline --json PROMPT``) through the gateway: its shell tool runs, the task ends.

The provider (id, key, model, base URL) is in ``~/.cline/data/settings/providers.json``
under the temp HOME; a bare prompt runs in act mode with tools auto-approved. Cline 3.0
names its shell tool ``run_commands`` and takes ``commands``: a list of whole command lines,
so the script gives it one line (the shared script's argv form would run ``bash`` alone).

Cline's Anthropic provider is the issue's "fails every request" case: it offers Anthropic
server tools (``web_search_*``) that a non-Anthropic upstream lacks; the gateway drops them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
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
from support.scripted.script import (
    COMMAND,
    SENTINEL_FILE,
    SENTINEL_TEXT,
    Reply,
    ToolCall,
    Turn,
    default_script,
)

pytestmark = pytest.mark.agents
PROMPT = f"Use a shell command to write {SENTINEL_TEXT} into {SENTINEL_FILE}."
SHELL_TOOL = "run_commands"
QUIET = {"CLINE_NO_AUTO_UPDATE": "1", "CLINE_DISABLE_CLINE_PASS_NOTICE": "1"}


def cline_script(turn: Turn) -> Reply:
    """Cline's ``run_commands`` with one command line; otherwise the shared script."""
    shell = next((t for t in turn.tools if t.name == SHELL_TOOL), None)
    if shell is None or turn.has_tool_result:
        return default_script(turn)
    return Reply("tool_call", call=ToolCall(shell, {"commands": [COMMAND]}))


def write_provider(home: Path, provider: str, gateway: AgentGateway, base: str) -> None:
    """Cline's provider settings file, as ``cline auth`` writes it (``auth`` refuses a base
    URL for its Anthropic provider; the settings file takes one for every provider)."""
    settings = {"provider": provider, "apiKey": gateway.key, "model": gateway.model,
                "baseUrl": base}  # fmt: skip
    entry = {"settings": settings, "updatedAt": "2026-01-01T00:00:00.000Z",
             "tokenSource": "manual"}  # fmt: skip
    document = {"version": 1, "lastUsedProvider": provider, "modes": {},
                "providers": {provider: entry}}  # fmt: skip
    path = home / ".cline" / "data" / "settings" / "providers.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))


def stop_hub(tmp_path: Path) -> None:
    """Stop the hub daemon a run left behind, if this test's run started it (its --cwd)."""
    record = tmp_path / "home" / ".cline" / "data" / "locks" / "hub" / "production.json"
    if not record.is_file():
        return
    pid = int(json.loads(record.read_text()).get("pid", 0))
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"--cline-hub-daemon" in cmdline and str(tmp_path).encode() in cmdline:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):  # it holds a fixed port the next test's run would reuse
            if not Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def run_cline(gateway: AgentGateway, tmp_path: Path, provider: str, base: str) -> str:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = client_env(tmp_path / "home", **QUIET)
    write_provider(tmp_path / "home", provider, gateway, base)
    cline = str(client_binary("npm", "node_modules", ".bin", "cline"))
    try:
        done = run_client([cline, "--json", "-t", "180", PROMPT], work, env)
    finally:
        stop_hub(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("kind", ["openai-compatible", "deepseek", "openai"])
def test_cline_openai_compatible_provider_runs_its_shell_tool_through_the_gateway(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str
) -> None:
    with agent_gateway(tmp_path, kind, cline_script) as gateway:
        output = run_cline(gateway, tmp_path, "openai-compatible", gateway.openai_base)
        assert_task_done(gateway, output, tmp_path / "work", capfd.readouterr().out)


@pytest.mark.parametrize("kind", ["anthropic", "deepseek", "openai-compatible"])
def test_cline_anthropic_provider_runs_its_shell_tool_through_the_gateway(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str
) -> None:
    with agent_gateway(tmp_path, kind, cline_script) as gateway:
        # The AI SDK Anthropic provider appends ``/messages`` to its base URL: it takes ``/v1``.
        output = run_cline(gateway, tmp_path, "anthropic", gateway.openai_base)
        assert_task_done(gateway, output, tmp_path / "work", capfd.readouterr().out)


@pytest.mark.llama
def test_cline_finishes_a_task_on_the_local_model_without_a_4xx(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], llama_url: str
) -> None:
    # A 270M model cannot be trusted to call tools: only the run and the statuses are checked.
    with local_gateway(tmp_path, llama_url) as gateway:
        run_cline(gateway, tmp_path, "openai-compatible", gateway.openai_base)
        assert gateway.audit() != []
        assert_no_4xx(gateway)
        assert logged_errors(capfd.readouterr().out) == []
