"""The JSON each IDE agent needs to start ``securellm mcp``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

ClientName = Literal["claude-code", "cline", "vscode", "continue"]
CLIENTS: tuple[str, ...] = ("claude-code", "cline", "vscode", "continue")


def server_command(
    command: str, config: Path | None, *, python: str | None = None
) -> tuple[str, list[str]]:
    """``securellm mcp [--config F]``, or ``<python> -m securellm.mcp [--config F]``."""
    if python is not None:
        command, args = python, ["-m", "securellm.mcp"]
    else:
        args = ["mcp"]
    if config is not None:
        args += ["--config", str(config)]
    return command, args


def client_snippet(
    client: str,
    *,
    command: str = "securellm",
    config: Path | None = None,
    env: dict[str, str] | None = None,
    python: str | None = None,
) -> dict[str, Any]:
    """The JSON document (or fragment) to paste into ``client``'s MCP configuration.

    - claude-code: ``.mcp.json`` in the project (or ``claude mcp add-json securellm '<server>'``)
    - cline: ``cline_mcp_settings.json``
    - vscode: ``.vscode/mcp.json``
    - continue: ``.continue/mcpServers/securellm.json`` (the JSON format Claude and Cline use)
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
    raise ValueError(f"unknown client {client!r}; choose one of {', '.join(CLIENTS)}")
