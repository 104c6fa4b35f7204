"""``securellm install-units``: the plain-systemd deployment for non-NixOS hosts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from securellm.cli.common import fail
from securellm.deploy_units.installer import (
    UNIT_NAMES,
    InstallError,
    Status,
    apply,
    check_executable,
    plan,
)

NEXT_STEPS = (
    "systemd-sysusers /etc/sysusers.d/securellm.conf",
    "systemd-tmpfiles --create /etc/tmpfiles.d/securellm.conf",
    "systemctl daemon-reload",
    "systemctl enable --now securellm-gateway.service",
)


def default_executable() -> Path:
    """The ``securellm`` script of the running installation (beside its Python)."""
    beside_python = Path(sys.executable).parent / "securellm"
    if beside_python.exists():
        return beside_python
    return Path(sys.argv[0]).absolute()


def install_units(
    prefix: Annotated[
        Path, typer.Option("--prefix", help="Install under this root instead of /.")
    ] = Path("/"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be written; write nothing.")
    ] = False,
    exe: Annotated[
        Path | None,
        typer.Option("--exec", help="The securellm program the units run (default: this one)."),
    ] = None,
) -> None:
    """Install the systemd units, sysusers/tmpfiles rules, polkit rule and default configs."""
    try:
        program = check_executable(exe if exe is not None else default_executable())
        actions = plan(prefix.absolute(), program)
        if not dry_run:
            apply(actions)
    except InstallError as exc:
        fail(str(exc), 2)
    verb = "would write" if dry_run else "wrote"
    for action in actions:
        said = verb if action.status is Status.WRITE else "kept (exists)"
        typer.echo(f"{said} {action.target}")
    typer.echo(f"units run {program}")
    if prefix.absolute() == Path("/") and not dry_run:
        typer.echo("next, as root:")
        for step in NEXT_STEPS:
            typer.echo(f"  {step}")
        others = ", ".join(name for name in UNIT_NAMES if "gateway" not in name)
        typer.echo(f"  (and enable {others} where wanted)")


def register(app: typer.Typer) -> None:
    """Attach the deployment commands to the root app."""
    app.command("install-units")(install_units)
