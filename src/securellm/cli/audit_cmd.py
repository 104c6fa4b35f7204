"""``securellm audit verify|query|export``."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from securellm.cli.common import ConfigOption, fail, out_console, settings_or_exit
from securellm.core.config import Settings
from securellm.core.db import create_engine
from securellm.gateway.audit import query as audit_query
from securellm.gateway.audit.verify import verify_directory
from securellm.gateway.keys import AmbiguousKey, KeyNotFound, KeyStore
from securellm.gateway.migrations import upgrade

T = TypeVar("T")
audit_app = typer.Typer(help="Verify and search the audit trail.", no_args_is_help=True)

Since = Annotated[str | None, typer.Option(help="From: ISO time, Unix seconds or an age (24h).")]
Until = Annotated[str | None, typer.Option(help="Until (exclusive), same forms as --since.")]
KeyOpt = Annotated[str | None, typer.Option("--key", help="Key id or name.")]
ModelOpt = Annotated[str | None, typer.Option(help="Model as the client named it.")]
ProviderOpt = Annotated[str | None, typer.Option(help="Provider name.")]
StatusOpt = Annotated[int | None, typer.Option(help="HTTP status.")]
OutcomeOpt = Annotated[
    str | None,
    typer.Option(
        help="ok, refused, rate_limited, failed, timed_out, client_gone, cache_hit, incomplete."
    ),
]


@audit_app.command("verify")
def verify(
    directory: Annotated[
        Path | None, typer.Argument(help="Audit directory (default: from the config).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Check every hash chain; list edited, deleted, reordered or truncated records and
    missing files, and the lines a crash tore that the gateway closed off at its start."""
    settings = settings_or_exit(config)
    target = directory or settings.audit_dir
    if not target.is_dir():
        fail(f"no audit directory at {target}", 2)
    key = settings.audit.hmac_key
    report = verify_directory(target, key.get_secret_value().encode() if key else None)
    for problem in report.problems:
        typer.echo(str(problem))
    for repair in report.repairs:
        typer.echo(f"repaired: {repair}")
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
    for end in report.ends:
        typer.echo(
            f"stream {end.stream}: chain ends at {end.file}:{end.line}"
            + (f" ({end.timestamp})" if end.timestamp else "")
        )
    verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    typer.echo(f"{report.files} file(s), {report.records} record(s): {verdict}")
    if not report.ok:
        raise typer.Exit(1)


def _run(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            return await action(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _filter(
    settings: Settings, since: str | None, until: str | None, key: str | None, **rest: Any
) -> audit_query.AuditFilter:
    try:
        start = audit_query.parse_time(since) if since else None
        end = audit_query.parse_time(until) if until else None
    except ValueError as exc:
        fail(str(exc), 2)
    base = audit_query.AuditFilter(since=start, until=end, **rest)
    if key is None:
        return base

    async def lookup(engine: Any) -> str | None:
        try:
            return (await KeyStore(engine).get(key)).id
        except (KeyNotFound, AmbiguousKey):  # several keys share the name: match it
            return None

    key_id = _run(settings, lookup)
    if key_id is not None:
        return replace(base, key=key_id)
    # Not in the database (deleted, or given as an id): match what the records say.
    return replace(base, key=key) if key.startswith("key_") else replace(base, key_name=key)


@audit_app.command("query")
def query(
    config: ConfigOption = None,
    since: Since = None,
    until: Until = None,
    key: KeyOpt = None,
    model: ModelOpt = None,
    provider: ProviderOpt = None,
    status: StatusOpt = None,
    outcome: OutcomeOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Search the audit index (newest first)."""
    settings = settings_or_exit(config)
    flt = _filter(
        settings,
        since,
        until,
        key,
        model=model,
        provider=provider,
        status=status,
        outcome=outcome,
        limit=limit,
    )
    rows = _run(settings, lambda engine: audit_query.query(engine, flt))
    if as_json:
        for row in rows:
            sys.stdout.buffer.write(audit_query.jsonl(row))
        return
    table = Table("time", "key", "model", "provider", "status", "outcome", "tokens", "cost $", "ms")
    for row in rows:
        when = datetime.fromtimestamp(row["ts"], UTC).isoformat(timespec="seconds")
        table.add_row(
            when,
            row["key_name"] or row["key_id"] or "-",
            row["model"] or "-",
            row["provider"] or "-",
            str(row["status"]),
            row["outcome"],
            str(row["total_tokens"]),
            f"{row['cost_usd']:.6f}",
            f"{row['duration_ms']:.0f}",
        )
    out_console.print(table)
    out_console.print(f"{len(rows)} row(s)", highlight=False)


@audit_app.command("export")
def export(
    config: ConfigOption = None,
    since: Since = None,
    until: Until = None,
    key: KeyOpt = None,
    model: ModelOpt = None,
    provider: ProviderOpt = None,
    status: StatusOpt = None,
    outcome: OutcomeOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default stdout).")
    ] = None,
) -> None:
    """Export matching audit rows as JSON lines or CSV."""
    if fmt not in ("jsonl", "csv"):
        fail("--format must be jsonl or csv", 2)
    settings = settings_or_exit(config)
    flt = _filter(
        settings,
        since,
        until,
        key,
        model=model,
        provider=provider,
        status=status,
        outcome=outcome,
        limit=None,
    )

    async def write(engine: Any) -> int:
        count = 0
        target = output.open("wb") if output else contextlib.nullcontext(sys.stdout.buffer)
        with target as sink:
            if fmt == "csv":
                sink.write(audit_query.csv_header().encode())
            async for row in audit_query.stream_rows(engine, flt):
                line = (
                    audit_query.jsonl(row) if fmt == "jsonl" else audit_query.csv_line(row).encode()
                )
                sink.write(line)
                count += 1
        return count

    count = _run(settings, write)
    if output:
        out_console.print(f"wrote {count} row(s) to {output}", highlight=False)


def register(app: typer.Typer) -> None:
    """Attach the audit commands to the root app."""
    app.add_typer(audit_app, name="audit")
