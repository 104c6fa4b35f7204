"""``securellm mcp config --client X`` snippets, one shape per client."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from securellm.mcp.clients import CLIENTS, client_snippet, http_snippet, server_command


def test_claude_code_uses_mcp_servers_with_stdio_type() -> None:
    server = client_snippet("claude-code", command="securellm")["mcpServers"]["securellm"]
    assert server == {"type": "stdio", "command": "securellm", "args": ["mcp"]}


def test_default_command_is_an_absolute_path_that_exists() -> None:
    command, args = server_command(None, None)
    assert Path(command).is_absolute()
    assert os.access(command, os.X_OK)
    assert args[-1] == "mcp"


def test_continue_cli_lists_the_server_by_name() -> None:
    snippet = client_snippet("continue-cli", command="/bin/securellm")
    assert snippet == {
        "mcpServers": [{"name": "securellm", "command": "/bin/securellm", "args": ["mcp"]}]
    }


def test_cline_snippet_is_enabled() -> None:
    server = client_snippet("cline")["mcpServers"]["securellm"]
    assert server["disabled"] is False


def test_vscode_uses_servers_key() -> None:
    assert client_snippet("vscode")["servers"]["securellm"]["type"] == "stdio"


def test_continue_uses_the_plain_command_shape() -> None:
    server = client_snippet("continue", command="securellm")["mcpServers"]["securellm"]
    assert server == {"command": "securellm", "args": ["mcp"]}


@pytest.mark.parametrize("client", CLIENTS)
def test_config_path_is_passed_to_the_server(client: str) -> None:
    text = repr(client_snippet(client, config=Path("/etc/securellm.toml")))
    assert "'--config', '/etc/securellm.toml'" in text


def test_unknown_client_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown client"):
        client_snippet("emacs")


def test_claude_code_http_takes_the_token_from_its_environment() -> None:
    server = http_snippet("claude-code", "http://127.0.0.1:8765/mcp")["mcpServers"]["securellm"]
    assert server == {
        "type": "http",
        "url": "http://127.0.0.1:8765/mcp",
        "headers": {"Authorization": "Bearer ${SECURELLM_MCP_TOKEN}"},
    }


def test_vscode_http_prompts_for_the_token_as_a_password() -> None:
    snippet = http_snippet("vscode", "http://127.0.0.1:8765/mcp")
    prompt = snippet["inputs"][0]
    header = snippet["servers"]["securellm"]["headers"]["Authorization"]
    assert prompt["password"] is True
    assert header == "Bearer ${input:" + prompt["id"] + "}"


def test_unknown_client_is_refused_for_http() -> None:
    with pytest.raises(ValueError, match="unknown client"):
        http_snippet("emacs", "http://127.0.0.1:1/mcp")
