"""``securellm audit verify|query|export``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the audit commands to the root app."""
