"""``securellm mcp``: the MCP server for IDE agents, and ``securellm mcp config``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from securellm.cli.common import ConfigOption, fail, settings_or_exit

mcp_app = typer.Typer(
    help="The MCP server for IDE agents (stdio by default).",
    invoke_without_command=True,
)


@mcp_app.callback()
def mcp(
    ctx: typer.Context,
    config: ConfigOption = None,
    http: Annotated[
        str | None,
        typer.Option("--http", metavar="HOST:PORT", help="Serve streamable HTTP instead of stdio."),
    ] = None,
    tools: Annotated[
        str | None,
        typer.Option(
            "--tools",
            metavar="GROUPS",
            help="Offer only these tool groups: knowledge, nix, stack, security (comma-separated).",
        ),
    ] = None,
) -> None:
    """Run the MCP server: stdio for IDE agents, or --http 127.0.0.1:PORT."""
    if ctx.invoked_subcommand is not None:
        return
    from securellm.mcp.errors import HttpStartError, InvalidInputError
    from securellm.mcp.run import parse_http_address, serve, with_tools

    try:
        address = parse_http_address(http) if http else None
    except InvalidInputError as exc:
        fail(str(exc), 2)
    settings = settings_or_exit(config)
    try:
        if tools is not None:
            settings = with_tools(settings, tools)
    except InvalidInputError as exc:
        fail(str(exc), 2)
    try:
        serve(settings, http=address)
    except HttpStartError as exc:
        fail(str(exc), 2)


@mcp_app.command("config")
def mcp_config(
    client: Annotated[
        str,
        typer.Option("--client", help="claude-code, cline, vscode, continue or continue-cli."),
    ],
    config: ConfigOption = None,
    command: Annotated[
        str | None,
        typer.Option(
            "--command", help="How the client starts securellm (default: this one's full path)."
        ),
    ] = None,
    python: Annotated[
        bool,
        typer.Option(
            "--python", help="Start 'python -m securellm.mcp' with this interpreter (faster start)."
        ),
    ] = False,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            metavar="URL",
            help="Connect to 'securellm mcp --http' at URL (http://HOST:PORT/mcp) with its token.",
        ),
    ] = None,
) -> None:
    """Print the snippet (YAML for continue-cli) CLIENT needs to start or reach this server."""
    from securellm.mcp.clients import CLIENTS, client_snippet, http_snippet

    if client not in CLIENTS:
        fail(f"unknown client {client!r}; choose one of {', '.join(CLIENTS)}", 2)
    if http is not None:
        if not http.startswith(("http://", "https://")):
            fail(f"--http wants the server's URL (http://HOST:PORT/mcp), got {http!r}", 2)
        typer.echo(_render(client, http_snippet(client, http)))
        return
    path = Path(config).expanduser().resolve() if config else None
    interpreter = sys.executable if python else None
    snippet = client_snippet(client, command=command, config=path, python=interpreter)
    typer.echo(_render(client, snippet))


def _render(client: str, snippet: dict[str, Any]) -> str:
    if client == "continue-cli":
        import yaml

        return yaml.safe_dump(snippet, sort_keys=False).rstrip()
    return json.dumps(snippet, indent=2)


def register(app: typer.Typer) -> None:
    """Attach this component's commands to the root app."""
    app.add_typer(mcp_app, name="mcp")
