"""`securellm nix`: audit a NixOS configuration repository and write its blueprint."""

from __future__ import annotations

import os
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer

from securellm.cli.common import fail
from securellm.nixaudit import (
    AuditReport,
    NixAuditError,
    Severity,
    all_rules,
    audit_repository,
    generate_blueprint,
)
from securellm.nixaudit.audit import audit_files
from securellm.nixaudit.baseline import write_baseline
from securellm.nixaudit.formats import to_sarif, to_text


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


PathArg = Annotated[Path, typer.Argument(help="The configuration repository (e.g. /etc/nixos).")]
PathsArg = Annotated[
    list[Path],
    typer.Argument(help="The configuration repository (e.g. /etc/nixos), or .nix files."),
]


def audit(
    paths: PathsArg,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text, json or sarif.")
    ] = OutputFormat.text,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", "-r", help="Run only this rule (repeatable).")
    ] = None,
    min_severity: Annotated[
        str,
        typer.Option("--min-severity", help="Hide findings below: info|low|medium|high|critical."),
    ] = "info",
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on", help="Exit 1 when a finding is at least this severe, or 'never'."
        ),
    ] = "high",
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Report only findings not recorded in this file."),
    ] = None,
    write_to: Annotated[
        Path | None,
        typer.Option("--write-baseline", help="Record today's findings here and exit 0."),
    ] = None,
) -> None:
    """Audit a repository (or just some files) and print the findings.

    Exit 0: nothing at or above --fail-on; 1: a finding at or above it; 2: bad arguments.
    """
    try:
        threshold = None if fail_on.strip().lower() == "never" else Severity.parse(fail_on)
        report = _audit(paths, rule, min_severity, None if write_to else baseline)
    except NixAuditError as exc:
        fail(str(exc), 2)
    if write_to is not None:
        _write_baseline(write_to, report)
        return
    rules = all_rules()
    if output_format is OutputFormat.json:
        typer.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    elif output_format is OutputFormat.sarif:
        typer.echo(orjson.dumps(to_sarif(report, rules), option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(to_text(report, rules), nl=False)
    if threshold is not None and report.at_or_above(threshold):
        raise typer.Exit(1)


def _audit(
    paths: list[Path], rule: list[str] | None, min_severity: str, baseline: Path | None
) -> AuditReport:
    if len(paths) == 1 and paths[0].is_dir():
        return audit_repository(paths[0], rules=rule, min_severity=min_severity, baseline=baseline)
    if any(p.is_dir() for p in paths):
        fail("give one directory, or one or more files", 2)
    return audit_files(paths, rules=rule, min_severity=min_severity, baseline=baseline)


def _write_baseline(target: Path, report: AuditReport) -> None:
    try:
        write_baseline(target, report)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror}", 2)
    typer.echo(f"wrote baseline {target} ({len(report.findings)} findings)", err=True)


def blueprint(
    path: PathArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write here, keeping its manual sections if it exists."
        ),
    ] = None,
) -> None:
    """Write the architecture blueprint of PATH (Markdown) to stdout or --output."""
    existing = None
    if output is not None and output.exists():
        try:
            existing = output.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {output}: {exc}", 2)
    try:
        text = generate_blueprint(path, existing)
    except NixAuditError as exc:
        fail(str(exc), 2)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        _write_atomically(output, text)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}", 2)
    typer.echo(f"wrote {output}", err=True)


def rules() -> None:
    """List the audit rules."""
    for rule_id, rule in all_rules().items():
        typer.echo(f"{rule_id:<28} {rule.severity.value:<8} {rule.title}")


def _write_atomically(target: Path, text: str) -> None:
    """Replace ``target`` only once the new text is fully on disk."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise


def register(app: typer.Typer) -> None:
    """Attach this component's commands to the root app."""
    nix = typer.Typer(
        help="Audit NixOS configuration repositories and write their architecture blueprint.",
        no_args_is_help=True,
    )
    nix.command("audit")(audit)
    nix.command("blueprint")(blueprint)
    nix.command("rules")(rules)
    app.add_typer(nix, name="nix")
