"""``securellm mcp config`` and the argument checks of ``securellm mcp``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from securellm.cli import mcp_cmd


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """securellm."""

    mcp_cmd.register(root)
    return root


def test_config_command_is_absolute_by_default(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["mcp", "config", "--client", "claude-code"])
    assert Path(json.loads(result.stdout)["mcpServers"]["securellm"]["command"]).is_absolute()


def test_continue_cli_config_is_yaml_for_config_yaml(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["mcp", "config", "--client", "continue-cli"])
    assert result.exit_code == 0
    (server,) = yaml.safe_load(result.stdout)["mcpServers"]
    assert server["name"] == "securellm"
    assert server["args"][-1] == "mcp"


@pytest.mark.parametrize("client", ["claude-code", "cline", "vscode", "continue"])
def test_config_prints_valid_json_for_each_client(app: typer.Typer, client: str) -> None:
    result = CliRunner().invoke(app, ["mcp", "config", "--client", client])
    assert result.exit_code == 0
    assert "securellm" in json.dumps(json.loads(result.stdout))


def test_config_embeds_an_absolute_config_path(app: typer.Typer, tmp_path: object) -> None:
    result = CliRunner().invoke(
        app, ["mcp", "config", "--client", "vscode", "--config", "relative.toml"]
    )
    args = json.loads(result.stdout)["servers"]["securellm"]["args"]
    assert args[args.index("--config") + 1].startswith("/")


def test_config_with_custom_command(app: typer.Typer) -> None:
    result = CliRunner().invoke(
        app, ["mcp", "config", "--client", "claude-code", "--command", "/opt/bin/securellm"]
    )
    assert json.loads(result.stdout)["mcpServers"]["securellm"]["command"] == "/opt/bin/securellm"


def test_unknown_client_exits_2(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["mcp", "config", "--client", "emacs"])
    assert result.exit_code == 2


def test_bad_http_address_exits_2(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["mcp", "--http", "127.0.0.1"])
    assert result.exit_code == 2


def test_python_flag_starts_the_module_with_this_interpreter(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["mcp", "config", "--client", "vscode", "--python"])
    server = json.loads(result.stdout)["servers"]["securellm"]
    assert server["command"] == sys.executable
    assert server["args"] == ["-m", "securellm.mcp"]


@pytest.mark.parametrize("client", ["claude-code", "cline", "vscode", "continue"])
def test_http_config_shows_how_the_client_sends_the_token(app: typer.Typer, client: str) -> None:
    url = "http://127.0.0.1:8765/mcp"
    result = CliRunner().invoke(app, ["mcp", "config", "--client", client, "--http", url])
    assert result.exit_code == 0
    text = json.dumps(json.loads(result.stdout))
    assert url in text
    assert '"Authorization": "Bearer ' in text


def test_http_config_wants_a_url(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["mcp", "config", "--client", "vscode", "--http", "8765"])
    assert result.exit_code == 2


def test_http_without_a_usable_token_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    config = tmp_path / "securellm.toml"
    config.write_text('[mcp]\nhttp_token_env = "SECURELLM_TEST_UNSET_TOKEN_VAR"\n')
    result = CliRunner().invoke(
        app, ["mcp", "--config", str(config), "--http", "127.0.0.1:1"], env={"HOME": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "SECURELLM_TEST_UNSET_TOKEN_VAR" in result.output
