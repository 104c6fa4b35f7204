"""``securellm keys``: virtual API keys, stored hashed, managed from the command line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from securellm.cli.common import ConfigOption, fail, out_console, settings_or_exit
from securellm.core.config import Settings
from securellm.core.db import create_engine
from securellm.gateway.keys import BudgetPeriod, KeyNotFound, KeyStore, NewKey

T = TypeVar("T")
keys_app = typer.Typer(help="Manage virtual API keys (stored hashed).", no_args_is_help=True)


def _with_store(settings: Settings, action: Callable[[KeyStore], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            store = KeyStore(engine)
            await store.create_schema()
            return await action(store)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _expiry(value: str | None) -> datetime | None:
    if value is None:
        return None
    units = {"d": 86400, "h": 3600, "m": 60}
    if value[:-1].isdigit() and value[-1] in units:
        from datetime import timedelta

        return datetime.now(UTC) + timedelta(seconds=int(value[:-1]) * units[value[-1]])
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--expires must be like 30d, 12h or an ISO date, not {value!r}", 2)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name to recognise the key by.")],
    config: ConfigOption = None,
    models: Annotated[
        list[str] | None, typer.Option("--models", help="Allowed models (repeat; globs ok).")
    ] = None,
    rpm: Annotated[int | None, typer.Option(min=1, help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option(min=1, help="Tokens per minute.")] = None,
    max_concurrency: Annotated[
        int | None, typer.Option(min=1, help="Requests in flight at once.")
    ] = None,
    budget: Annotated[float | None, typer.Option(min=0.000001, help="Budget in USD.")] = None,
    period: Annotated[str | None, typer.Option(help="Budget period: day, month or total.")] = None,
    expires: Annotated[str | None, typer.Option(help="30d, 12h, or an ISO date.")] = None,
    log_content: Annotated[
        bool, typer.Option(help="Record prompts/responses (redacted) in the audit trail.")
    ] = False,
) -> None:
    """Create a key and print it once: it cannot be shown again."""
    if period is not None and period not in ("day", "month", "total"):
        fail("--period must be day, month or total", 2)
    settings = settings_or_exit(config)
    budget_period: BudgetPeriod | None = period  # type: ignore[assignment]
    spec = NewKey(
        name=name,
        models=models or None,
        rpm=rpm,
        tpm=tpm,
        max_concurrency=max_concurrency,
        budget_usd=budget,
        budget_period=budget_period,
        expires_at=_expiry(expires),
        log_content=log_content,
    )
    record, plaintext = _with_store(settings, lambda store: store.create(spec))
    out_console.print(f"created key [bold]{record.name}[/] ({record.id})", highlight=False)
    out_console.print("store it now, it will not be shown again:", highlight=False)
    typer.echo(plaintext)


@keys_app.command("list")
def list_keys(config: ConfigOption = None) -> None:
    """List keys (never their secret)."""
    settings = settings_or_exit(config)
    records = _with_store(settings, lambda store: store.list())
    table = Table("id", "name", "prefix", "models", "rpm", "tpm", "budget", "expires", "state")
    for r in records:
        table.add_row(
            r.id,
            r.name,
            r.prefix + "…",
            ",".join(r.models) if r.models else "all",
            str(r.rpm or "-"),
            str(r.tpm or "-"),
            f"{r.budget_usd}/{r.budget_period}" if r.budget_usd else "-",
            r.expires_at.isoformat(timespec="minutes") if r.expires_at else "-",
            "revoked" if r.revoked else ("expired" if r.is_expired() else "active"),
        )
    out_console.print(table)


@keys_app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="Key id or name.")], config: ConfigOption = None
) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    settings = settings_or_exit(config)
    try:
        record = _with_store(settings, lambda store: store.revoke(key))
    except KeyNotFound:
        fail(f"no key with id or name {key!r}")
    out_console.print(f"revoked {record.name} ({record.id})", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
