"""The JSON each IDE agent needs to start ``securellm mcp``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, Literal

ClientName = Literal["claude-code", "cline", "vscode", "continue", "continue-cli"]
CLIENTS: tuple[str, ...] = ("claude-code", "cline", "vscode", "continue", "continue-cli")
TOKEN_ENV = "SECURELLM_MCP_TOKEN"  # noqa: S105 (the variable's name, not its value)
TOKEN_INPUT = "securellm-mcp-token"  # noqa: S105 (an input id)


def securellm_command() -> list[str]:
    """An absolute way to start this installation's ``securellm`` (agents rarely share PATH).

    The running ``securellm`` script, else the one on PATH, resolved; else this interpreter
    with ``-m securellm`` (not resolved: a venv's python is a symlink out of the venv).
    """
    argv0 = Path(sys.argv[0])
    if argv0.name == "securellm" and argv0.is_file():
        return [str(argv0.resolve())]
    found = shutil.which("securellm")
    if found:
        return [str(Path(found).resolve())]
    return [sys.executable, "-m", "securellm"]


def server_command(
    command: str | None, config: Path | None, *, python: str | None = None
) -> tuple[str, list[str]]:
    """``<securellm> mcp [--config F]``, or ``<python> -m securellm.mcp [--config F]``.

    ``command`` None means :func:`securellm_command` (an absolute path).
    """
    if python is not None:
        command, args = python, ["-m", "securellm.mcp"]
    elif command is None:
        command, *args = securellm_command()
        args.append("mcp")
    else:
        args = ["mcp"]
    if config is not None:
        args += ["--config", str(config)]
    return command, args


def client_snippet(
    client: str,
    *,
    command: str | None = None,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    python: str | None = None,
) -> dict[str, Any]:
    """The JSON document (or fragment) to paste into ``client``'s MCP configuration.

    - claude-code: ``.mcp.json`` in the project (or ``claude mcp add-json securellm '<server>'``)
    - cline: ``cline_mcp_settings.json``
    - vscode: ``.vscode/mcp.json``
    - continue: ``.continue/mcpServers/securellm.json`` (the JSON format Claude and Cline use)
    - continue-cli: ``~/.continue/config.yaml`` (``cn`` reads a YAML list under ``mcpServers``)
    """
    exe, args = server_command(command, config, python=python)
    server: dict[str, Any] = {"command": exe, "args": args}
    if env:
        server["env"] = dict(env)
    if client == "claude-code":
        return {"mcpServers": {"securellm": {"type": "stdio", **server}}}
    if client == "cline":
        return {"mcpServers": {"securellm": {**server, "disabled": False, "autoApprove": []}}}
    if client == "vscode":
        return {"servers": {"securellm": {"type": "stdio", **server}}}
    if client == "continue":
        # Continue picks up JSON files in this common shape from .continue/mcpServers/.
        return {"mcpServers": {"securellm": server}}
    if client == "continue-cli":
        # @continuedev/cli 1.5.47 config.yaml: mcpServers is a list of {name, command, args}.
        return {"mcpServers": [{"name": "securellm", **server}]}
    raise ValueError(f"unknown client {client!r}; choose one of {', '.join(CLIENTS)}")


def http_snippet(client: str, url: str) -> dict[str, Any]:
    """The JSON for ``client`` to reach ``securellm mcp --http`` at ``url`` with its token.

    The token itself is never written into the snippet: Claude Code expands
    ``${SECURELLM_MCP_TOKEN}`` from its environment, VS Code prompts for it once (an input
    of type password), Continue reads it from its secrets; Cline has no expansion, so its
    ``<token>`` placeholder is replaced by hand with the contents of the token file.
    """
    server: dict[str, Any] = {"url": url}
    if client == "claude-code":
        server |= {"type": "http", "headers": {"Authorization": f"Bearer ${{{TOKEN_ENV}}}"}}
        return {"mcpServers": {"securellm": server}}
    if client == "vscode":
        prompt = {
            "type": "promptString",
            "id": TOKEN_INPUT,
            "description": "securellm MCP bearer token (in the file 'securellm mcp --http' names)",
            "password": True,
        }
        server |= {"type": "http", "headers": {"Authorization": f"Bearer ${{input:{TOKEN_INPUT}}}"}}
        return {"inputs": [prompt], "servers": {"securellm": server}}
    if client == "cline":
        server |= {
            "type": "streamableHttp",
            "headers": {"Authorization": "Bearer <token>"},
            "disabled": False,
            "autoApprove": [],
        }
        return {"mcpServers": {"securellm": server}}
    if client in ("continue", "continue-cli"):
        headers = {"Authorization": f"Bearer ${{{{ secrets.{TOKEN_ENV} }}}}"}
        server |= {"type": "streamable-http", "requestOptions": {"headers": headers}}
        if client == "continue-cli":
            return {"mcpServers": [{"name": "securellm", **server}]}
        return {"mcpServers": {"securellm": server}}
    raise ValueError(f"unknown client {client!r}; choose one of {', '.join(CLIENTS)}")
