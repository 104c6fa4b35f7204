"""Entry point: assembles the sub-command groups of every component.

Each component's commands live in ``securellm.cli.<component>_cmd`` with a
``register(app)`` function. ``main`` imports only the module the command line names
(``securellm mcp`` never loads the gateway's database stack), which keeps start-up fast
for the MCP server that IDEs spawn; ``--help`` and unknown commands get every group.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import Any

import typer

from securellm import __version__

# command (first argument) -> the module that registers it
COMMANDS = {
    "up": "up_cmd",
    "config": "config_cmd",
    "gateway": "gateway_cmd",
    "keys": "keys_cmd",
    "audit": "audit_cmd",
    "cache": "cache_cmd",
    "offload": "offload_cmd",
    "models": "offload_cmd",
    "gpu": "offload_cmd",
    "mcp": "mcp_cmd",
    "knowledge": "knowledge_cmd",
    "connect": "connect_cmd",
    "nix": "nix_cmd",
    "install-units": "deploy_cmd",
}
MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"securellm {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """A secure, fast, self-hosted LLM stack: gateway, local model manager, MCP server."""


def build_app(modules: Iterable[str] = MODULES) -> typer.Typer:
    """The ``securellm`` command with the given command modules registered."""
    app = typer.Typer(
        name="securellm",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback()(_root)
    for name in modules:
        importlib.import_module(f"securellm.cli.{name}").register(app)
    return app


def __getattr__(name: str) -> Any:
    """``securellm.cli.main.app``: the full command (tests and tools import it)."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    module = COMMANDS.get(args[0]) if args else None
    build_app([module] if module else MODULES)(args=args)
