"""CLI commands for the nix component (being built)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this component's commands to the root app."""
