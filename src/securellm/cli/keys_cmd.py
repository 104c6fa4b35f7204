"""``securellm keys``: virtual API keys, stored hashed, managed from the command line.

Names are unique among live keys. ``revoke``, ``update`` and ``regenerate`` take an id or a
name; a name several keys share (possible in databases from before unique names) is
refused with the candidates, to be named by id.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from securellm.cli.common import ConfigOption, fail, out_console, settings_or_exit
from securellm.core.config import Settings
from securellm.core.db import create_engine
from securellm.core.errors import InvalidRequest, SecureLLMError
from securellm.gateway.keys import (
    MAX_BUDGET_USD,
    UNSET,
    BudgetPeriod,
    KeyNotFound,
    KeyRecord,
    KeyStore,
    KeyUpdate,
    NewKey,
)

T = TypeVar("T")
keys_app = typer.Typer(help="Manage virtual API keys (stored hashed).", no_args_is_help=True)
KeyArgument = Annotated[str, typer.Argument(help="Key id or name.")]
Models = Annotated[
    list[str] | None, typer.Option("--models", help="Allowed models (repeat; globs ok).")
]
Rpm = Annotated[int | None, typer.Option(min=1, help="Requests per minute.")]
Tpm = Annotated[int | None, typer.Option(min=1, help="Tokens per minute.")]
Concurrency = Annotated[int | None, typer.Option(min=1, help="Requests in flight at once.")]
Budget = Annotated[
    float | None, typer.Option(min=0.000001, max=MAX_BUDGET_USD, help="Budget in USD.")
]
Period = Annotated[str | None, typer.Option(help="Budget period: day, month or total.")]
Expires = Annotated[str | None, typer.Option(help="30d, 12h, or an ISO date.")]


class Clearable(StrEnum):
    models = "models"
    rpm = "rpm"
    tpm = "tpm"
    max_concurrency = "max-concurrency"
    budget = "budget"
    expires = "expires"


CLEARS = {
    Clearable.models: ("models",),
    Clearable.rpm: ("rpm",),
    Clearable.tpm: ("tpm",),
    Clearable.max_concurrency: ("max_concurrency",),
    Clearable.budget: ("budget_usd", "budget_period"),
    Clearable.expires: ("expires_at",),
}


def _with_store(settings: Settings, action: Callable[[KeyStore], Awaitable[T]]) -> T:
    """Run ``action`` on the store; refusals (taken or ambiguous name, unknown key, past
    expiry) end the command with their message."""

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            store = KeyStore(engine)
            await store.create_schema()
            return await action(store)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except KeyNotFound as exc:
        fail(f"no key with id or name {exc.args[0]!r}")
    except InvalidRequest as exc:
        fail(exc.message, 2)
    except SecureLLMError as exc:
        fail(exc.message)


def _expiry(value: str | None) -> datetime | None:
    if value is None:
        return None
    units = {"d": 86400, "h": 3600, "m": 60}
    amount = value[:-1]
    try:
        if amount.isascii() and amount.isdigit() and value[-1:] in units:
            return datetime.now(UTC) + timedelta(seconds=int(amount) * units[value[-1]])
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError):  # "²d", "99999999999d", "soon"
        fail(f"--expires must be like 30d, 12h or an ISO date before 9999, not {value!r}", 2)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _period(period: str | None) -> BudgetPeriod | None:
    if period is not None and period not in ("day", "month", "total"):
        fail("--period must be day, month or total", 2)
    return period  # type: ignore[return-value]


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name to recognise the key by (unique).")],
    config: ConfigOption = None,
    models: Models = None,
    rpm: Rpm = None,
    tpm: Tpm = None,
    max_concurrency: Concurrency = None,
    budget: Budget = None,
    period: Period = None,
    expires: Expires = None,
    log_content: Annotated[
        bool, typer.Option(help="Record prompts/responses (redacted) in the audit trail.")
    ] = False,
    admin: Annotated[
        bool, typer.Option("--admin", help="May use /admin/* and sign in to the dashboard.")
    ] = False,
) -> None:
    """Create a key and print it once: it cannot be shown again."""
    budget_period = _period(period)
    settings = settings_or_exit(config)
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
        admin=admin,
    )
    record, plaintext = _with_store(settings, lambda store: store.create(spec))
    _print_secret(f"created key [bold]{record.name}[/] ({record.id})", plaintext)


@keys_app.command("list")
def list_keys(
    config: ConfigOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON array, full ids (for scripts and pipes).")
    ] = False,
) -> None:
    """List keys (never their secret)."""
    settings = settings_or_exit(config)
    records = _with_store(settings, lambda store: store.list())
    if as_json:
        typer.echo(json.dumps([r.public_dict() for r in records], indent=2))
        return
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
def revoke(key: KeyArgument, config: ConfigOption = None) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    settings = settings_or_exit(config)
    record = _with_store(settings, lambda store: store.revoke(key))
    out_console.print(f"revoked {record.name} ({record.id})", highlight=False)


@keys_app.command("update")
def update(
    key: KeyArgument,
    config: ConfigOption = None,
    models: Models = None,
    rpm: Rpm = None,
    tpm: Tpm = None,
    max_concurrency: Concurrency = None,
    budget: Budget = None,
    period: Period = None,
    expires: Expires = None,
    clear: Annotated[
        list[Clearable] | None, typer.Option("--clear", help="Remove a limit (repeat).")
    ] = None,
) -> None:
    """Change a key's limits, budget, period, expiry or models; its secret stays."""
    given: dict[str, Any] = {
        "models": models or None,
        "rpm": rpm,
        "tpm": tpm,
        "max_concurrency": max_concurrency,
        "budget_usd": budget,
        "budget_period": _period(period),
        "expires_at": _expiry(expires),
    }
    changes = {name: value for name, value in given.items() if value is not None}
    for item in clear or ():
        for name in CLEARS[item]:
            if name in changes:
                fail(f"--clear {item.value} contradicts the value given for it", 2)
            changes[name] = None
    if not changes:
        fail("nothing to change: give a limit to set or --clear one", 2)
    settings = settings_or_exit(config)
    change = KeyUpdate(**{name: changes.get(name, UNSET) for name in given})
    record = _with_store(settings, lambda store: store.update(key, change))
    out_console.print(f"updated {record.name} ({record.id}): {_summary(record)}", highlight=False)


@keys_app.command("regenerate")
def regenerate(key: KeyArgument, config: ConfigOption = None) -> None:
    """Give a key a new secret, printed once; the old secret stops working (at once on
    this database; running gateways cache keys for up to 5 s)."""
    settings = settings_or_exit(config)
    record, plaintext = _with_store(settings, lambda store: store.regenerate(key))
    _print_secret(f"new secret for [bold]{record.name}[/] ({record.id})", plaintext)


def _print_secret(headline: str, plaintext: str) -> None:
    out_console.print(headline, highlight=False)
    out_console.print("store it now, it will not be shown again:", highlight=False)
    typer.echo(plaintext)


def _summary(record: KeyRecord) -> str:
    budget = f"${record.budget_usd}/{record.budget_period}" if record.budget_usd else "none"
    expiry = record.expires_at.isoformat(timespec="minutes") if record.expires_at else "never"
    return (
        f"models {','.join(record.models) if record.models else 'all'}, "
        f"rpm {record.rpm or '-'}, tpm {record.tpm or '-'}, "
        f"concurrency {record.max_concurrency or '-'}, budget {budget}, expires {expiry}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
