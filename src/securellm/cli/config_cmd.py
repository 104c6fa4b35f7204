"""``securellm config check FILE``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from securellm.cli.common import out_console, settings_or_exit

config_app = typer.Typer(help="Validate configuration files.", no_args_is_help=True)


@config_app.command("check")
def check(file: Annotated[Path, typer.Argument(help="The TOML file to validate.")]) -> None:
    """Validate FILE and point at every bad key; exit 2 when it is invalid."""
    settings = settings_or_exit(file)
    names = ", ".join(f"{p.name} ({p.kind})" for p in settings.providers)
    out_console.print(f"[green]ok[/] {file}: providers: {names}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
