"""What the keys page shows: each key with its budget use, read through KeyStore and
BudgetLedger (the services the admin API uses)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from securellm.core.errors import InvalidRequest
from securellm.gateway.keys import MAX_BUDGET_USD, KeyRecord, KeyUpdate, NewKey
from securellm.gateway.spend import BudgetLedger
from securellm.gateway.state import GatewayState


@dataclass(frozen=True)
class KeyRow:
    key: KeyRecord
    spent_usd: float | None
    left_usd: float | None


async def key_rows(state: GatewayState) -> list[KeyRow]:
    ledger = BudgetLedger(state.engine)
    rows = []
    for key in await state.keys.list():
        spent = left = None
        if key.budget_usd is not None:
            usage = await ledger.usage(key.id, key.budget_period or "total")
            spent = float(usage["spent_usd"])
            left = max(0.0, key.budget_usd - spent - float(usage["reserved_usd"]))
        rows.append(KeyRow(key, spent, left))
    return rows


def _number(form: dict[str, str], name: str, kind: type[int] | type[float]) -> int | float | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise InvalidRequest(f"{name} must be a number, not {text!r}", param=name) from None
    if not 0 < value <= MAX_BUDGET_USD:
        raise InvalidRequest(f"{name} must be above 0 and at most {MAX_BUDGET_USD:g}", param=name)
    return value


def new_key_of(form: dict[str, str]) -> NewKey:
    """The create form's fields as a :class:`NewKey` (bad input: :class:`InvalidRequest`)."""
    name = form.get("name", "").strip()
    if not name or len(name) > 128:
        raise InvalidRequest("name must be 1 to 128 characters", param="name")
    period = form.get("period") or None
    if period not in (None, "day", "month", "total"):
        raise InvalidRequest("period must be day, month or total", param="period")
    days = _number(form, "expires_days", int)
    rpm, tpm = _number(form, "rpm", int), _number(form, "tpm", int)
    return NewKey(
        name=name,
        rpm=int(rpm) if rpm else None,
        tpm=int(tpm) if tpm else None,
        budget_usd=_number(form, "budget_usd", float),
        budget_period=period,  # type: ignore[arg-type]
        expires_at=datetime.now(UTC) + timedelta(days=days) if days else None,
        admin=form.get("admin") == "on",
    )


def _period(form: dict[str, str]) -> str | None:
    period = form.get("period") or None
    if period not in (None, "day", "month", "total"):
        raise InvalidRequest("period must be day, month or total", param="period")
    return period


def _expiry(form: dict[str, str]) -> datetime | None:
    text = form.get("expires", "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"expires must be a date like 2027-01-31, not {text!r}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment <= datetime.now(UTC):
        raise InvalidRequest("expires must be in the future", param="expires")
    return moment


def update_of(form: dict[str, str]) -> KeyUpdate:
    """The edit form as a :class:`KeyUpdate`: every field is set, a blank one clears it."""
    rpm, tpm = _number(form, "rpm", int), _number(form, "tpm", int)
    models = [m.strip() for m in form.get("models", "").split(",") if m.strip()]
    return KeyUpdate(
        models=models or None,
        rpm=int(rpm) if rpm else None,
        tpm=int(tpm) if tpm else None,
        budget_usd=_number(form, "budget_usd", float),
        budget_period=_period(form),  # type: ignore[arg-type]
        expires_at=_expiry(form),
    )
