"""Dashboard sessions in the gateway's database, so every worker shares them and they
survive a restart. The cookie's random id is stored only as its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.dashboard.session import LIFETIME_S, Session
from securellm.gateway.tables import dashboard_sessions


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """``open`` / ``get`` / ``close`` over the ``dashboard_sessions`` table."""

    def __init__(self, engine: AsyncEngine, lifetime_s: float = LIFETIME_S) -> None:
        self.engine = engine
        self.lifetime_s = lifetime_s

    async def open(self, key_id: str, key_name: str) -> Session:
        now = time.time()
        session = Session(
            id=secrets.token_urlsafe(32),
            key_id=key_id,
            key_name=key_name,
            csrf=secrets.token_urlsafe(32),
            expires_at=now + self.lifetime_s,
            created_at=now,
        )
        row = {
            "id_hash": _hash(session.id),
            "key_id": key_id,
            "key_name": key_name,
            "csrf": session.csrf,
            "created_at": now,
            "expires_at": session.expires_at,
            "revoked": False,
        }
        async with self.engine.begin() as conn:
            await conn.execute(dashboard_sessions.insert().values(**row))
        return session

    async def get(self, session_id: str) -> Session | None:
        """The live session with that id: not signed out, revoked, nor past its expiry."""
        c = dashboard_sessions.c
        query = select(dashboard_sessions).where(
            c.id_hash == _hash(session_id), c.revoked.is_(False), c.expires_at > time.time()
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        return Session(
            id=session_id,
            key_id=row["key_id"],
            key_name=row["key_name"],
            csrf=row["csrf"],
            expires_at=row["expires_at"],
            created_at=row["created_at"],
        )

    async def close(self, session_id: str) -> None:
        await self._revoke(dashboard_sessions.c.id_hash == _hash(session_id))

    async def close_for_key(self, key_id: str) -> None:
        """End every session of a key (after it is revoked or regenerated)."""
        await self._revoke(dashboard_sessions.c.key_id == key_id)

    async def _revoke(self, where: ColumnElement[bool]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(dashboard_sessions).where(where).values(revoked=True))
