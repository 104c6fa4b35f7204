"""``securellm mcp config`` and the argument checks of ``securellm mcp``."""

from __future__ import annotations

import json
import sys

import pytest
import typer
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
    assert args[0] == "mcp"
    assert args[2].startswith("/")


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
