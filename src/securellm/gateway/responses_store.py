"""The Responses API's stored state: ``store``, ``previous_response_id`` and
``GET``/``DELETE /v1/responses/{id}``, per key, in the gateway's database.

A stored response is one row of ``responses``: the response object as the client got it,
the input items of its request, and the id of the response it continued. Rows belong to the
key that created them (the master key is the key id ``master``): any other key is told the
id does not exist (404, never 403, so ids do not leak). A row lives
``responses_retention_days`` (default 30) and is purged after; a response whose stored size
(response plus input items, as JSON) passes ``responses_max_bytes`` keeps only its tombstone,
so continuing it says why it cannot be continued.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from sqlalchemy import Integer, and_, bindparam, delete, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.core.errors import NotFound
from securellm.gateway.tables import responses
from securellm.providers.base import JSON

log = logging.getLogger(__name__)
DAY_S = 86_400.0
MAX_CHAIN = 10_000  # ancestors followed at most (a chain is acyclic; this bounds a bad row)
PURGE_EVERY_S = 3_600.0
MAX_ID = 128  # the column's width; a longer id, or one with control characters, is unknown


class ResponseNotFound(NotFound):
    """No stored response with this id for this key (404; OpenAI's error shape)."""

    code = "previous_response_not_found"

    def __init__(
        self, response_id: str, *, param: str | None = "previous_response_id", why: str = ""
    ) -> None:
        shown = response_id if len(response_id) <= 80 else response_id[:80] + "..."
        reason = f": {why}" if why else ""
        super().__init__(f"Response with id '{shown}' not found{reason}.", param=param)
        if param != "previous_response_id":
            self.code = "response_not_found"


class ResponseStore(Protocol):
    """Stored responses, per key; every method sees only ``key_id``'s rows."""

    async def context(self, key_id: str, response_id: str) -> list[JSON]:
        """Input items + output items of that response and all its ancestors, oldest first.

        Raises :class:`ResponseNotFound` when the response is unknown to the key, expired,
        or was too large to store.
        """
        ...

    async def save(
        self, key_id: str, response: JSON, input_items: list[JSON], previous_id: str | None
    ) -> None:
        """Store ``response`` (its ``id`` is the row's id) with the request's own input items."""
        ...

    async def get(self, key_id: str, response_id: str) -> JSON | None: ...

    async def input_items(self, key_id: str, response_id: str) -> list[JSON] | None: ...

    async def delete(self, key_id: str, response_id: str) -> bool: ...

    async def purge_expired(self) -> int: ...


class SqlResponseStore:
    """:class:`ResponseStore` on SQLAlchemy Core: SQLite by default, PostgreSQL alike."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        retention_days: float = 30,
        max_bytes: int = 16 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.retention_s = retention_days * DAY_S
        self.max_bytes = max_bytes
        self._clock = clock
        # Group commit: rows saved while a transaction runs wait for the next one together.
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def save(
        self, key_id: str, response: JSON, input_items: list[JSON], previous_id: str | None
    ) -> None:
        response_id = str(response["id"])
        if not usable_id(response_id):
            raise ValueError(f"a response id is 1 to {MAX_ID} printable characters")
        body = orjson.dumps(response)
        items = orjson.dumps(input_items)
        size = len(body) + len(items)
        stored = size <= self.max_bytes
        if not stored:
            log.warning(
                "response %s not stored: %d bytes, responses_max_bytes is %d",
                response_id,
                size,
                self.max_bytes,
            )
        now = self._clock()
        row = {
            "key_id": key_id,
            "id": response_id,
            "previous_id": previous_id,
            "created_at": now,
            "expires_at": now + self.retention_s,
            "size": size,
            "body": body.decode() if stored else None,
            "input_items": items.decode() if stored else None,
        }
        await self._write(row)

    async def _write(self, row: dict[str, Any]) -> None:
        """Return once ``row`` is committed (read-your-writes for any worker after it)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        await asyncio.shield(done)

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            rows = list({(r["key_id"], r["id"]): r for r, _ in batch}.values())  # last wins
            try:
                async with self.engine.begin() as conn:
                    mine = _mine(bindparam("k"), bindparam("i"))
                    ids = [{"k": r["key_id"], "i": r["id"]} for r in rows]
                    await conn.execute(delete(responses).where(mine), ids)
                    await conn.execute(insert(responses), rows)
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def get(self, key_id: str, response_id: str) -> JSON | None:
        row = await self._row(key_id, response_id) if usable_id(response_id) else None
        if row is None or row.body is None:
            return None
        found: JSON = orjson.loads(row.body)
        return found

    async def input_items(self, key_id: str, response_id: str) -> list[JSON] | None:
        row = await self._row(key_id, response_id) if usable_id(response_id) else None
        if row is None or row.input_items is None:
            return None
        items: list[JSON] = orjson.loads(row.input_items)
        return items

    async def delete(self, key_id: str, response_id: str) -> bool:
        if not usable_id(response_id):
            return False
        async with self.engine.begin() as conn:
            done = await conn.execute(delete(responses).where(_mine(key_id, response_id)))
        return bool(done.rowcount)

    async def purge_expired(self) -> int:
        query = delete(responses).where(responses.c.expires_at <= self._clock())
        async with self.engine.begin() as conn:
            done = await conn.execute(query)
        return int(done.rowcount or 0)

    async def context(self, key_id: str, response_id: str) -> list[JSON]:
        rows = await self._chain(key_id, response_id) if usable_id(response_id) else []
        if not rows:
            raise ResponseNotFound(response_id)
        items: list[JSON] = []
        for row in rows:
            if row.body is None or row.input_items is None:
                whose = "it" if row.id == response_id else f"its earlier turn {row.id}"
                why = f"{whose} was too large to store ({row.size} bytes)"
                raise ResponseNotFound(response_id, why=why)
            items.extend(orjson.loads(row.input_items))
            items.extend(orjson.loads(row.body).get("output") or [])
        return items

    async def _row(self, key_id: str, response_id: str) -> Any:
        c = responses.c
        query = select(c.body, c.input_items).where(
            and_(_mine(key_id, response_id), c.expires_at > self._clock())
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first()

    async def _chain(self, key_id: str, response_id: str) -> list[Any]:
        """The response and its live ancestors, oldest first (one recursive query)."""
        c, now = responses.c, self._clock()
        columns = (c.id, c.previous_id, c.size, c.body, c.input_items)
        start = select(*columns, literal(0, Integer).label("depth")).where(
            and_(_mine(key_id, response_id), c.expires_at > now)
        )
        chain = start.cte("chain", recursive=True)
        parent = responses.alias("parent")
        p = parent.c
        step = select(p.id, p.previous_id, p.size, p.body, p.input_items, chain.c.depth + 1).where(
            and_(
                p.key_id == key_id,
                p.id == chain.c.previous_id,
                p.expires_at > now,
                chain.c.depth < MAX_CHAIN,
            )
        )
        chain = chain.union_all(step)
        query = select(chain).order_by(chain.c.depth.desc())
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())


def usable_id(response_id: str) -> bool:
    """Whether ``response_id`` can name a row (a client may send anything in a URL)."""
    return 0 < len(response_id) <= MAX_ID and response_id.isprintable()


def _mine(key_id: Any, response_id: Any) -> Any:
    return and_(responses.c.key_id == key_id, responses.c.id == response_id)


async def purge_periodically(store: ResponseStore, every_s: float = PURGE_EVERY_S) -> None:
    """Purge expired responses now and every ``every_s``; runs until cancelled."""
    while True:
        try:
            removed = await store.purge_expired()
        except Exception as exc:
            log.error("purging expired responses failed: %s", type(exc).__name__)
        else:
            if removed:
                log.info("purged %d expired stored response(s)", removed)
        await asyncio.sleep(every_s)
