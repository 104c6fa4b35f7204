"""Entry point: assembles the sub-command groups of every component."""

from __future__ import annotations

import typer

from securellm import __version__
from securellm.cli import (
    audit_cmd,
    cache_cmd,
    config_cmd,
    deploy_cmd,
    gateway_cmd,
    mcp_cmd,
    nix_cmd,
    offload_cmd,
    up_cmd,
)

app = typer.Typer(
    name="securellm",
    help="A secure, fast, self-hosted LLM stack: gateway, local model manager, MCP server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"securellm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """securellm."""


up_cmd.register(app)
config_cmd.register(app)
gateway_cmd.register(app)
audit_cmd.register(app)
cache_cmd.register(app)
offload_cmd.register(app)
mcp_cmd.register(app)
nix_cmd.register(app)
deploy_cmd.register(app)


def main() -> None:
    app()
