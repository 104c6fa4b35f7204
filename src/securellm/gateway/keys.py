"""Virtual API keys: created once (plaintext shown once), stored as SHA-256 hashes.

A live (not revoked) key's name is unique: the ``active_name`` column carries it under a
unique index, so two gateways creating the same name at once cannot both succeed.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any, Literal

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.core.errors import SecureLLMError, UnprocessableRequest
from securellm.gateway.migrations import upgrade
from securellm.gateway.tables import api_keys

KEY_PREFIX = "sk-sl-"
# The ledger counts integer nano-USD in 64 bits; above this (or inf) a key could not be used.
MAX_BUDGET_USD = 1e9
KEY_ID = re.compile(r"key_[0-9a-f]{16}")
BudgetPeriod = Literal["day", "month", "total"]
MASTER_ID = "master"


def hash_key(plaintext: str) -> str:
    """Keys carry 256 random bits, so one SHA-256 is enough (no password stretching)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    """What the gateway knows about a caller; the plaintext key is never kept."""

    id: str
    name: str
    models: tuple[str, ...] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    budget_usd: float | None = None
    budget_period: BudgetPeriod | None = None
    log_content: bool = False
    cache_enabled: bool = True
    expires_at: datetime | None = None
    revoked: bool = False
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    prefix: str = ""
    is_admin: bool = False

    @property
    def is_master(self) -> bool:
        """The master key: no limits. An admin virtual key keeps its own limits."""
        return self.id == MASTER_ID

    def allows_model(self, public_id: str) -> bool:
        """A key limited to some models may use those (glob patterns allowed) and nothing else."""
        if self.models is None:
            return True
        return any(fnmatchcase(public_id, pattern) for pattern in self.models)

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or datetime.now(UTC)) >= self.expires_at

    def public_dict(self) -> dict[str, Any]:
        """The admin API / CLI view: everything but the hash."""
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "models": list(self.models) if self.models is not None else None,
            "rpm": self.rpm,
            "tpm": self.tpm,
            "max_concurrency": self.max_concurrency,
            "budget_usd": self.budget_usd,
            "period": self.budget_period,
            "log_content": self.log_content,
            "cache_enabled": self.cache_enabled,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked": self.revoked,
            "created_at": self.created_at.isoformat(),
            "admin": self.is_admin,
        }

    def describe(self) -> str:
        """``key_… (sk-sl-abcd…, created 2026-11-21)``: enough to tell namesakes apart."""
        state = ", revoked" if self.revoked else ""
        return f"{self.id} ({self.prefix}…, created {self.created_at:%Y-%m-%d}{state})"


MASTER = KeyRecord(id=MASTER_ID, name="master", is_admin=True)


@dataclass(frozen=True)
class NewKey:
    """Options for :meth:`KeyStore.create`."""

    name: str
    models: Sequence[str] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    budget_usd: float | None = None
    budget_period: BudgetPeriod | None = None
    log_content: bool = False
    cache_enabled: bool = True
    expires_at: datetime | None = None
    admin: bool = False


class Unset(enum.Enum):
    """Marks a :class:`KeyUpdate` field left as it is (``None`` clears a limit)."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True)
class KeyUpdate:
    """Changes for :meth:`KeyStore.update`: ``UNSET`` keeps a field, ``None`` clears it."""

    models: Sequence[str] | Unset | None = UNSET
    rpm: int | Unset | None = UNSET
    tpm: int | Unset | None = UNSET
    max_concurrency: int | Unset | None = UNSET
    budget_usd: float | Unset | None = UNSET
    budget_period: BudgetPeriod | Unset | None = UNSET
    expires_at: datetime | Unset | None = UNSET
    log_content: bool | Unset = UNSET
    cache_enabled: bool | Unset = UNSET

    def changes(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not UNSET}


class KeyNotFound(LookupError):
    """No key has that id or name."""


class KeyNameTaken(SecureLLMError):
    status = 409
    error_type = "invalid_request_error"
    code = "key_name_taken"


class AmbiguousKey(SecureLLMError):
    """A name several keys share: the caller must pick one by id."""

    status = 409
    error_type = "invalid_request_error"
    code = "ambiguous_key_name"

    def __init__(self, name: str, candidates: Sequence[KeyRecord]) -> None:
        listed = "; ".join(c.describe() for c in candidates)
        super().__init__(f"{len(candidates)} keys are named {name!r}: {listed}; name one by its id")
        self.candidates = tuple(candidates)


class KeyRevoked(SecureLLMError):
    status = 409
    error_type = "invalid_request_error"
    code = "key_revoked"


def _check_expiry(expires_at: datetime | None) -> datetime | None:
    expires_at = _aware(expires_at)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        when = expires_at.isoformat(timespec="seconds")
        raise UnprocessableRequest(
            f"expires_at {when} is already past: a key must expire in the future",
            param="expires_at",
        )
    return expires_at


def _check_name(name: str) -> None:
    if KEY_ID.fullmatch(name):
        raise UnprocessableRequest(
            f"{name!r} looks like a key id; choose another name", param="name"
        )


class KeyStore:
    """CRUD over the ``api_keys`` table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_schema(self) -> None:
        """Run the Alembic migrations (SQLite and PostgreSQL alike)."""
        await upgrade(self.engine)

    async def create(self, spec: NewKey) -> tuple[KeyRecord, str]:
        """Store a new key and return it with its plaintext (the only time it exists).

        Refused when a live key has the name (:class:`KeyNameTaken`) or the expiry is past.
        """
        _check_name(spec.name)
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        record = KeyRecord(
            id="key_" + secrets.token_hex(8),
            name=spec.name,
            models=tuple(spec.models) if spec.models else None,
            rpm=spec.rpm,
            tpm=spec.tpm,
            max_concurrency=spec.max_concurrency,
            budget_usd=spec.budget_usd,
            budget_period=spec.budget_period or ("total" if spec.budget_usd else None),
            log_content=spec.log_content,
            cache_enabled=spec.cache_enabled,
            expires_at=_check_expiry(spec.expires_at),
            prefix=plaintext[: len(KEY_PREFIX) + 4],
            is_admin=spec.admin,
        )
        row = _row_of(record)
        row.update(key_hash=hash_key(plaintext), active_name=record.name)
        holders = await self._live_named(record.name)
        if not holders:
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(api_keys.insert().values(**row))
            except IntegrityError:  # another create of the same name won the race
                holders = await self._live_named(record.name)
            else:
                return record, plaintext
        which = ", ".join(k.describe() for k in holders) or "another key"
        raise KeyNameTaken(
            f"a key named {record.name!r} already exists: {which}; choose another name,"
            " or update or regenerate that key",
            param="name",
        )

    async def by_plaintext(self, plaintext: str) -> KeyRecord | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(api_keys).where(api_keys.c.key_hash == hash_key(plaintext))
            )
            row = result.mappings().first()
        return _record_of(row) if row else None

    async def list(self, *, include_revoked: bool = True) -> list[KeyRecord]:
        query = select(api_keys).order_by(api_keys.c.created_at)
        if not include_revoked:
            query = query.where(api_keys.c.revoked.is_(False))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_record_of(r) for r in rows]

    async def get(self, id_or_name: str) -> KeyRecord:
        """The key with that id; else the one live key with that name (else the one revoked
        key). Raises :class:`KeyNotFound`, or :class:`AmbiguousKey` listing the namesakes."""
        c = api_keys.c
        query = select(api_keys).where(or_(c.id == id_or_name, c.name == id_or_name))
        async with self.engine.connect() as conn:
            records = [_record_of(r) for r in (await conn.execute(query)).mappings().all()]
        for record in records:
            if record.id == id_or_name:
                return record
        candidates = [r for r in records if not r.revoked] or records
        if not candidates:
            raise KeyNotFound(id_or_name)
        if len(candidates) > 1:
            raise AmbiguousKey(id_or_name, sorted(candidates, key=lambda r: r.created_at))
        return candidates[0]

    async def revoke(self, id_or_name: str) -> KeyRecord:
        record = await self.get(id_or_name)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == record.id)
                .values(revoked=True, active_name=None)
            )
        return replace(record, revoked=True)

    async def update(self, id_or_name: str, change: KeyUpdate) -> KeyRecord:
        """Change a live key's limits, budget, expiry or models; its secret stays."""
        record = await self._live(id_or_name, "updated")
        values = change.changes()
        if "expires_at" in values:
            values["expires_at"] = _check_expiry(values["expires_at"])
        if "models" in values:
            values["models"] = tuple(values["models"]) if values["models"] else None
        updated = replace(record, **values)
        if updated.budget_usd is None:
            updated = replace(updated, budget_period=None)
        elif updated.budget_period is None:
            updated = replace(updated, budget_period="total")
        row = _row_of(updated)
        for fixed in ("id", "name", "prefix", "revoked", "created_at", "admin"):
            del row[fixed]
        async with self.engine.begin() as conn:
            await conn.execute(update(api_keys).where(api_keys.c.id == record.id).values(**row))
        return updated

    async def regenerate(self, id_or_name: str) -> tuple[KeyRecord, str]:
        """Give a live key a new secret; the old one stops matching at once."""
        record = await self._live(id_or_name, "regenerated")
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        updated = replace(record, prefix=plaintext[: len(KEY_PREFIX) + 4])
        async with self.engine.begin() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == record.id)
                .values(key_hash=hash_key(plaintext), prefix=updated.prefix)
            )
        return updated, plaintext

    async def _live(self, id_or_name: str, verb: str) -> KeyRecord:
        record = await self.get(id_or_name)
        if record.revoked:
            raise KeyRevoked(f"key {record.describe()} is revoked and cannot be {verb}")
        return record

    async def _live_named(self, name: str) -> tuple[KeyRecord, ...]:
        c = api_keys.c
        query = select(api_keys).where(c.name == name, c.revoked.is_(False))
        async with self.engine.connect() as conn:
            return tuple(_record_of(r) for r in (await conn.execute(query)).mappings().all())


def _row_of(record: KeyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "models": list(record.models) if record.models is not None else None,
        "rpm": record.rpm,
        "tpm": record.tpm,
        "max_concurrency": record.max_concurrency,
        "budget_usd": record.budget_usd,
        "budget_period": record.budget_period,
        "log_content": record.log_content,
        "cache_enabled": record.cache_enabled,
        "expires_at": record.expires_at,
        "revoked": record.revoked,
        "created_at": record.created_at,
        "admin": record.is_admin,
    }


def _aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _record_of(row: Any) -> KeyRecord:
    models = row["models"]
    created = _aware(row["created_at"])
    return KeyRecord(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        models=tuple(models) if models is not None else None,
        rpm=row["rpm"],
        tpm=row["tpm"],
        max_concurrency=row["max_concurrency"],
        budget_usd=row["budget_usd"],
        budget_period=row["budget_period"],
        log_content=bool(row["log_content"]),
        cache_enabled=bool(row["cache_enabled"]),
        expires_at=_aware(row["expires_at"]),
        revoked=bool(row["revoked"]),
        created_at=created or datetime.now(UTC),
        is_admin=bool(row["admin"]),
    )
