"""``securellm gateway`` and ``securellm keys``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from securellm.cli.common import ConfigOption, fail, out_console, settings_or_exit
from securellm.core.config import Settings
from securellm.core.db import create_engine
from securellm.gateway.keys import BudgetPeriod, KeyNotFound, KeyStore, NewKey

T = TypeVar("T")
keys_app = typer.Typer(help="Manage virtual API keys (stored hashed).", no_args_is_help=True)


def gateway(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8100).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Run the OpenAI/Anthropic-compatible gateway."""
    import uvicorn

    overrides: dict[str, Any] = {}
    for name, value in (("host", host), ("port", port), ("workers", workers)):
        if value is not None:
            overrides[name] = value
    settings = (
        settings_or_exit(config, gateway=overrides) if overrides else settings_or_exit(config)
    )
    if config is not None:
        os.environ["SECURELLM_CONFIG"] = str(config.resolve())
    for name, value in overrides.items():
        os.environ[f"SECURELLM_GATEWAY__{name.upper()}"] = str(value)
    gw = settings.gateway
    uvicorn.run(
        "securellm.gateway.app:app_from_environment",
        factory=True,
        host=gw.host,
        port=gw.port,
        workers=gw.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=int(gw.drain_timeout_s),
        ssl_certfile=str(gw.tls_cert_file) if gw.tls_cert_file else None,
        ssl_keyfile=str(gw.tls_key_file) if gw.tls_key_file else None,
    )


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
    app.command("gateway")(gateway)
    app.add_typer(keys_app, name="keys")


__all__ = ["Path", "register"]
