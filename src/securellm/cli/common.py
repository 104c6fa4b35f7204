"""Helpers shared by every sub-command: loading settings and reporting errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from securellm.core.config import ConfigError, Settings, load_settings

err_console = Console(stderr=True)
out_console = Console()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (default: $SECURELLM_CONFIG)."),
]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error to stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None, **overrides: object) -> Settings:
    """Load settings, turning a bad config into a clear message and exit code 2."""
    try:
        return load_settings(config, overrides={k: v for k, v in overrides.items() if v})
    except ConfigError as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        err_console.print(f"[bold red]invalid config[/] {exc.source}:\n{lines}", highlight=False)
        raise typer.Exit(2) from None
