"""``securellm connect AGENT``: point a coding agent at this gateway (and at ``securellm mcp``).

Prints the environment variables, commands and config documents by default; ``--write``
merges the documents into the agent's config files. The key is only ever referred to by the
name of the environment variable that holds it: the master key is never printed or written.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer

from securellm.cli.common import ConfigOption, fail, gateway_url, out_console, settings_or_exit

KEY_ENV = "SECURELLM_API_KEY"
MASTER_ENV = "SECURELLM_MASTER_KEY"


def connect(
    agent: Annotated[
        str, typer.Argument(help="claude-code, codex, cline, continue, aider or opencode.")
    ],
    config: ConfigOption = None,
    gateway: Annotated[
        str | None,
        typer.Option("--gateway-url", help="The gateway's root URL (default: from the config)."),
    ] = None,
    key_env: Annotated[
        str, typer.Option("--key-env", help="The environment variable holding a virtual key.")
    ] = KEY_ENV,
    model: Annotated[
        str, typer.Option("--model", help="The model id, as /v1/models lists it.")
    ] = "local/gemma-3-270m",
    max_output_tokens: Annotated[
        int | None,
        typer.Option("--max-output-tokens", min=1, help="Claude Code's output cap."),
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Merge into the agent's config files (backed up).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what --write would write, and where.")
    ] = False,
) -> None:
    """Print (or --write) what points AGENT at this gateway and at securellm mcp."""
    from securellm.cli.agents import AGENTS
    from securellm.cli.agents.common import Target
    from securellm.mcp.clients import server_command

    if agent not in AGENTS:
        fail(f"unknown agent {agent!r}; choose one of {', '.join(AGENTS)}", 2)
    if not key_env.isidentifier() or key_env == MASTER_ENV:
        fail(f"--key-env wants the name of a variable holding a virtual key, not {key_env!r}", 2)
    if gateway is None:
        gateway = gateway_url(settings_or_exit(config))
    elif not gateway.startswith(("http://", "https://")):
        fail(f"--gateway-url wants http(s)://HOST:PORT, got {gateway!r}", 2)
    path = Path(config).expanduser().resolve() if config else None
    command, args = server_command(None, path)
    target = Target(
        gateway_url=gateway.rstrip("/"),
        key_env=key_env,
        model=model,
        home=Path(os.path.expanduser("~")),
        mcp_command=command,
        mcp_args=tuple(args),
        max_output_tokens=max_output_tokens,
    )
    setup = AGENTS[agent](target)
    if write and not dry_run:
        _write(setup)
    else:
        _show(setup, would=write or dry_run)


def _show(setup: object, *, would: bool) -> None:
    from securellm.cli.agents.common import Setup
    from securellm.cli.agents.files import ConfigFileError, merged_text, render

    assert isinstance(setup, Setup)
    echo = typer.echo
    echo(f"# {setup.agent} (format of {setup.source})")
    if setup.env:
        echo("\n# environment")
        for name, value in setup.env.items():
            quoted = f'"{value}"' if value.startswith("$") else shlex.quote(value)
            echo(f"export {name}={quoted}")
    for argv in setup.commands:
        echo("\n# run")
        echo(" ".join(a if a.startswith("$") else shlex.quote(a) for a in argv))
    for file in setup.files:
        text = render(file.format, file.content)
        if would:
            try:
                text = merged_text(file)[0]
            except ConfigFileError as exc:
                fail(str(exc), 2)
        echo(f"\n# {file.path} ({file.what}){' would become:' if would else ''}")
        echo(text.rstrip())
    for note in setup.notes:
        echo(f"\n# note: {note}")


def _write(setup: object) -> None:
    from securellm.cli.agents.common import Setup
    from securellm.cli.agents.files import ConfigFileError, write

    assert isinstance(setup, Setup)
    for file in setup.files:
        try:
            backup = write(file)
        except (ConfigFileError, OSError) as exc:
            fail(str(exc), 2)
        saved = f" (was saved to {backup})" if backup else ""
        out_console.print(f"wrote {file.path}{saved}", highlight=False, soft_wrap=True)
    if setup.env:
        names = ", ".join(setup.env)
        out_console.print(f"or set in the environment: {names}", soft_wrap=True)
    for argv in setup.commands:
        out_console.print("run yourself: " + " ".join(argv), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Attach ``securellm connect`` to the root app."""
    app.command("connect")(connect)
