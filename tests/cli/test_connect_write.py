"""``securellm connect AGENT --write`` merges into the agent's config files, safely."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
import typer
import yaml
from tests.support.require import missing
from typer.testing import CliRunner

from securellm.cli import connect_cmd

GATEWAY = "http://127.0.0.1:8100"
MASTER = "sk-master-must-never-appear-0123456789"
AGENTS_BIN = (
    Path(os.environ.get("SECURELLM_AGENTS_DIR", Path.home() / ".cache/securellm/agents"))
    / "npm"
    / "node_modules"
    / ".bin"
)


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """securellm."""

    connect_cmd.register(root)
    return root


def run(app: typer.Typer, home: Path, *args: str) -> str:
    env = {"HOME": str(home), "SECURELLM_MASTER_KEY": MASTER}
    result = CliRunner().invoke(app, ["connect", *args, "--gateway-url", GATEWAY], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.bak-*"))


def agent_binary(name: str) -> Path:
    path = AGENTS_BIN / name if name != "aider" else AGENTS_BIN.parents[2] / "aider/bin/aider"
    if not path.exists():
        missing(f"{name} from .ci/agents.sh ({path})")
    return path


def test_codex_write_keeps_the_settings_already_there(app: typer.Typer, tmp_path: Path) -> None:
    config = tmp_path / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text('# mine\napproval_policy = "never"\n\n[mcp_servers.other]\ncommand = "x"\n')
    run(app, tmp_path, "codex", "--write")
    doc = tomllib.loads(config.read_text())
    assert doc["approval_policy"] == "never"
    assert doc["mcp_servers"]["other"] == {"command": "x"}
    assert doc["model_providers"]["securellm"]["wire_api"] == "responses"
    assert "# mine" in config.read_text()


def test_write_backs_up_what_was_there(app: typer.Typer, tmp_path: Path) -> None:
    config = tmp_path / ".claude.json"
    config.write_text('{"numStartups": 3}')
    run(app, tmp_path, "claude-code", "--write")
    (backup,) = backups(config)
    assert backup.read_text() == '{"numStartups": 3}'
    assert json.loads(config.read_text())["numStartups"] == 3


def test_second_write_changes_nothing(app: typer.Typer, tmp_path: Path) -> None:
    config = tmp_path / ".continue" / "config.yaml"
    config.parent.mkdir()
    config.write_text("name: mine\nversion: 0.0.1\nschema: v1\nmodels:\n- name: other\n")
    run(app, tmp_path, "continue", "--write")
    first = config.read_text()
    run(app, tmp_path, "continue", "--write")
    assert config.read_text() == first
    assert len(backups(config)) == 1
    doc = yaml.safe_load(first)
    assert [m["name"] for m in doc["models"]] == ["other", "securellm local/gemma-3-270m"]
    assert [s["name"] for s in doc["mcpServers"]] == ["securellm"]


def test_written_files_are_private(app: typer.Typer, tmp_path: Path) -> None:
    run(app, tmp_path, "opencode", "--write")
    config = tmp_path / ".config" / "opencode" / "opencode.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "agent", ["claude-code", "codex", "cline", "continue", "aider", "opencode"]
)
def test_written_files_never_contain_the_master_key(
    app: typer.Typer, tmp_path: Path, agent: str
) -> None:
    output = run(app, tmp_path, agent, "--write")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written
    assert all(MASTER not in p.read_text() for p in written)
    assert MASTER not in output


def test_dry_run_shows_the_merged_file_and_writes_nothing(app: typer.Typer, tmp_path: Path) -> None:
    config = tmp_path / ".aider.conf.yml"
    config.write_text("dark-mode: true\n")
    output = run(app, tmp_path, "aider", "--write", "--dry-run")
    assert "dark-mode: true" in output
    assert "openai-api-base: http://127.0.0.1:8100/v1" in output
    assert config.read_text() == "dark-mode: true\n"


def test_unparseable_config_is_left_alone_with_a_clear_error(
    app: typer.Typer, tmp_path: Path
) -> None:
    config = tmp_path / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text("model = [unclosed\n")
    env = {"HOME": str(tmp_path)}
    result = CliRunner().invoke(
        app, ["connect", "codex", "--write", "--gateway-url", GATEWAY], env=env
    )
    assert result.exit_code == 2
    assert "not valid TOML" in result.output
    assert config.read_text() == "model = [unclosed\n"


def test_codex_reads_the_written_config(app: typer.Typer, tmp_path: Path) -> None:
    codex = agent_binary("codex")
    run(app, tmp_path, "codex", "--write", "--key-env", "MY_VKEY", "--model", "ds/deepseek-chat")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MY_VKEY": "sk-virtual"}
    done = subprocess.run(
        [str(codex), "doctor", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    checks = json.loads(done.stdout)["checks"]
    loaded = checks["config.load"]
    assert loaded["status"] == "ok"
    assert loaded["details"]["model provider"] == "securellm"
    assert loaded["details"]["model"] == "ds/deepseek-chat"
    assert checks["mcp.config"]["status"] == "ok"
    assert checks["auth.credentials"]["details"]["provider auth env var"] == "MY_VKEY (present)"


def test_opencode_reads_the_written_config(app: typer.Typer, tmp_path: Path) -> None:
    opencode = agent_binary("opencode")
    run(app, tmp_path, "opencode", "--write", "--model", "ds/deepseek-chat")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "OPENCODE_DISABLE_AUTOUPDATE": "1"}
    done = subprocess.run(
        [str(opencode), "debug", "config"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    config = json.loads(done.stdout)
    assert config["model"] == "securellm/ds/deepseek-chat"
    assert config["provider"]["securellm"]["options"]["baseURL"] == f"{GATEWAY}/v1"
    assert config["mcp"]["securellm"]["type"] == "local"


def test_claude_code_starts_the_written_mcp_server(app: typer.Typer, tmp_path: Path) -> None:
    claude = agent_binary("claude")
    run(app, tmp_path, "claude-code", "--write")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(claude), "mcp", "get", "securellm"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "Scope: User config" in done.stdout
    assert "Status: ✔ Connected" in done.stdout


def test_aider_reads_the_written_config(app: typer.Typer, tmp_path: Path) -> None:
    aider = agent_binary("aider")
    run(app, tmp_path, "aider", "--write", "--model", "ds/deepseek-chat")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "OPENAI_API_KEY": "sk-virtual"}
    argv = [str(aider), "--exit", "--verbose", "--no-git", "--no-show-release-notes"]
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert "Model: openai/ds/deepseek-chat" in done.stdout
    assert "openai_api_base: http://127.0.0.1:8100/v1" in done.stdout
