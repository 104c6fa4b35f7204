"""Who is calling: the master key, or a virtual key looked up (with a short cache) in the DB."""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping

from securellm.core.errors import AuthenticationFailed, PermissionDenied
from securellm.gateway.keys import MASTER, KeyRecord, KeyStore

CACHE_TTL_S = 5.0
CACHE_MAX = 10_000


class AdminRequired(PermissionDenied):
    """A valid key that is not the master key, on an admin endpoint (403, not 401)."""

    code = "admin_required"


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``Authorization: Bearer`` (OpenAI SDK) or ``x-api-key`` (Anthropic SDK)."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    api_key = headers.get("x-api-key")
    return api_key.strip() if api_key and api_key.strip() else None


class Authenticator:
    """Resolves a presented key to a :class:`KeyRecord` or raises 401.

    Valid keys are cached for a few seconds so the hot path does not hit the database;
    revocation through this process's store is immediate, through another process's
    within ``CACHE_TTL_S``.
    """

    def __init__(self, store: KeyStore, master_key: str | None) -> None:
        self.store = store
        self._master = master_key.encode() if master_key else None
        self._cache: dict[str, tuple[float, KeyRecord]] = {}

    async def authenticate(self, headers: Mapping[str, str]) -> KeyRecord:
        key = presented_key(headers)
        if key is None:
            raise AuthenticationFailed(
                "missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'"
            )
        if self._master is not None and hmac.compare_digest(key.encode(), self._master):
            return MASTER
        record = await self._lookup(key)
        if record is None:
            raise AuthenticationFailed("invalid API key")
        if record.revoked:
            raise AuthenticationFailed("this API key has been revoked")
        if record.is_expired():
            raise AuthenticationFailed("this API key has expired")
        return record

    def require_admin(self, record: KeyRecord) -> None:
        """After :meth:`authenticate` (which answers 401 to a missing or wrong key): a valid
        virtual key is known but not allowed here, so 403."""
        if not record.is_admin:
            raise AdminRequired(
                "this endpoint needs the master key or an admin key; this key is not allowed"
            )

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (after a revoke, update or regenerate) so the change
        applies at once in this process."""
        for cached_key, (_, record) in list(self._cache.items()):
            if record.id == key_id:
                del self._cache[cached_key]

    async def _lookup(self, key: str) -> KeyRecord | None:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_TTL_S:
            return hit[1]
        record = await self.store.by_plaintext(key)
        if record is not None:
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[key] = (now, record)
        return record
