"""CLI commands for the gateway (being built)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the gateway's commands to the root app."""
