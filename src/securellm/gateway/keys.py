"""Virtual API keys: created once (plaintext shown once), stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.gateway.migrations import upgrade
from securellm.gateway.tables import api_keys

KEY_PREFIX = "sk-sl-"
BudgetPeriod = Literal["day", "month", "total"]


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
        }


MASTER = KeyRecord(id="master", name="master", is_admin=True)


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


class KeyNotFound(LookupError):
    """No key has that id or name."""


class KeyStore:
    """CRUD over the ``api_keys`` table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_schema(self) -> None:
        """Run the Alembic migrations (SQLite and PostgreSQL alike)."""
        await upgrade(self.engine)

    async def create(self, spec: NewKey) -> tuple[KeyRecord, str]:
        """Store a new key and return it with its plaintext (the only time it exists)."""
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
            expires_at=spec.expires_at,
            prefix=plaintext[: len(KEY_PREFIX) + 4],
        )
        row = _row_of(record)
        row["key_hash"] = hash_key(plaintext)
        async with self.engine.begin() as conn:
            await conn.execute(api_keys.insert().values(**row))
        return record, plaintext

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
        for record in await self.list():
            if id_or_name in (record.id, record.name):
                return record
        raise KeyNotFound(id_or_name)

    async def revoke(self, id_or_name: str) -> KeyRecord:
        record = await self.get(id_or_name)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(api_keys).where(api_keys.c.id == record.id).values(revoked=True)
            )
        return KeyRecord(**{**record.__dict__, "revoked": True})


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
    )
