"""``securellm connect AGENT`` prints each agent's settings in the agent's own format."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from securellm.cli import connect_cmd
from securellm.cli.agents import AGENTS
from securellm.cli.agents.common import Setup, Target
from securellm.cli.agents.files import render
from securellm.mcp.clients import server_command

GATEWAY = "http://127.0.0.1:8100"
MASTER = "sk-master-must-never-appear-0123456789"


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """securellm."""

    connect_cmd.register(root)
    return root


def target(home: Path) -> Target:
    return Target(
        gateway_url=GATEWAY,
        key_env="MY_VKEY",
        model="ds/deepseek-chat",
        home=home,
        mcp_command="/opt/securellm/bin/securellm",
        mcp_args=("mcp",),
    )


def parsed(setup: Setup, name: str) -> Any:
    file = next(f for f in setup.files if f.path.name == name)
    text = render(file.format, file.content)
    if file.format == "toml":
        return tomllib.loads(text)
    if file.format == "yaml":
        return yaml.safe_load(text)
    return json.loads(text)


def invoke(app: typer.Typer, home: Path, *args: str) -> Any:
    env = {"HOME": str(home), "SECURELLM_MASTER_KEY": MASTER}
    return CliRunner().invoke(app, ["connect", *args, "--gateway-url", GATEWAY], env=env)


def test_claude_code_points_every_model_tier_at_the_gateway(tmp_path: Path) -> None:
    setup = AGENTS["claude-code"](target(tmp_path))
    settings = parsed(setup, "settings.json")
    assert settings["env"]["ANTHROPIC_BASE_URL"] == GATEWAY
    assert settings["env"]["ANTHROPIC_MODEL"] == "ds/deepseek-chat"
    assert settings["env"]["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "ds/deepseek-chat"
    assert settings["apiKeyHelper"] == "printenv MY_VKEY"
    assert setup.env["ANTHROPIC_AUTH_TOKEN"] == "$MY_VKEY"


def test_claude_code_registers_securellm_mcp_in_claude_json(tmp_path: Path) -> None:
    server = parsed(AGENTS["claude-code"](target(tmp_path)), ".claude.json")["mcpServers"]
    assert server["securellm"] == {
        "type": "stdio",
        "command": "/opt/securellm/bin/securellm",
        "args": ["mcp"],
    }


def test_codex_config_is_toml_with_a_responses_provider(tmp_path: Path) -> None:
    config = parsed(AGENTS["codex"](target(tmp_path)), "config.toml")
    assert config["model_provider"] == "securellm"
    assert config["model"] == "ds/deepseek-chat"
    assert config["model_providers"]["securellm"] == {
        "name": "securellm gateway",
        "base_url": f"{GATEWAY}/v1",
        "env_key": "MY_VKEY",
        "wire_api": "responses",
    }
    assert config["mcp_servers"]["securellm"]["command"] == "/opt/securellm/bin/securellm"


def test_cline_is_set_up_with_cline_auth_and_its_mcp_settings_file(tmp_path: Path) -> None:
    setup = AGENTS["cline"](target(tmp_path))
    auth = setup.commands[0]
    assert auth[:4] == ("cline", "auth", "--provider", "openai")
    assert auth[auth.index("--baseurl") + 1] == f"{GATEWAY}/v1"
    assert auth[auth.index("--apikey") + 1] == "$MY_VKEY"
    servers = parsed(setup, "cline_mcp_settings.json")["mcpServers"]
    assert servers["securellm"]["disabled"] is False


def test_continue_config_yaml_lists_the_model_and_the_mcp_server(tmp_path: Path) -> None:
    config = parsed(AGENTS["continue"](target(tmp_path)), "config.yaml")
    (model,) = config["models"]
    assert model["provider"] == "openai"
    assert model["apiBase"] == f"{GATEWAY}/v1"
    assert model["apiKey"] == "${{ secrets.MY_VKEY }}"
    assert config["mcpServers"] == [
        {"name": "securellm", "command": "/opt/securellm/bin/securellm", "args": ["mcp"]}
    ]


def test_aider_uses_openai_prefixed_model_names(tmp_path: Path) -> None:
    setup = AGENTS["aider"](target(tmp_path))
    config = parsed(setup, ".aider.conf.yml")
    assert config["model"] == "openai/ds/deepseek-chat"
    assert config["openai-api-base"] == f"{GATEWAY}/v1"
    assert setup.env["OPENAI_API_KEY"] == "$MY_VKEY"


def test_opencode_provider_uses_the_openai_compatible_sdk(tmp_path: Path) -> None:
    config = parsed(AGENTS["opencode"](target(tmp_path)), "opencode.json")
    provider = config["provider"]["securellm"]
    assert provider["npm"] == "@ai-sdk/openai-compatible"
    assert provider["options"] == {"baseURL": f"{GATEWAY}/v1", "apiKey": "{env:MY_VKEY}"}
    assert config["model"] == "securellm/ds/deepseek-chat"
    assert config["mcp"]["securellm"]["command"] == ["/opt/securellm/bin/securellm", "mcp"]


@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_printed_setup_never_contains_the_master_key(
    app: typer.Typer, tmp_path: Path, agent: str
) -> None:
    result = invoke(app, tmp_path, agent)
    assert result.exit_code == 0, result.output
    assert MASTER not in result.output
    assert GATEWAY in result.output


@pytest.mark.parametrize("agent", ["claude-code", "codex", "cline", "continue", "opencode"])
def test_mcp_command_written_is_an_absolute_path_that_exists(
    app: typer.Typer, tmp_path: Path, agent: str
) -> None:
    command, _ = server_command(None, None)
    result = invoke(app, tmp_path, agent, "--write")
    assert result.exit_code == 0, result.output
    written = "\n".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert command in written
    assert Path(command).is_absolute()
    assert os.access(command, os.X_OK)


def test_master_key_variable_is_refused_as_key_env(app: typer.Typer, tmp_path: Path) -> None:
    result = invoke(app, tmp_path, "codex", "--key-env", "SECURELLM_MASTER_KEY")
    assert result.exit_code == 2


def test_unknown_agent_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    result = invoke(app, tmp_path, "emacs")
    assert result.exit_code == 2
    assert "claude-code" in result.output


def test_gateway_url_comes_from_the_config(app: typer.Typer, tmp_path: Path) -> None:
    config = tmp_path / "securellm.toml"
    config.write_text('[gateway]\nhost = "127.0.0.1"\nport = 8333\n')
    result = CliRunner().invoke(
        app, ["connect", "codex", "--config", str(config)], env={"HOME": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    assert 'base_url = "http://127.0.0.1:8333/v1"' in result.output
