"""The MCP server's knowledge base, read through :class:`KnowledgeStore` (no SQL here).

The file is found the way ``securellm mcp`` finds it (``[mcp] knowledge_db_path``, else
``data_dir/knowledge.db``). A file that does not exist is not created: the page says there is
no knowledge base yet. Each call opens the store, does one thing and closes it (in a thread,
off the event loop); SQLite's WAL lets the MCP server keep writing meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from securellm.core.config import Settings
from securellm.mcp.knowledge.counts import Counts, counts
from securellm.mcp.knowledge.models import ENTRY_TYPES, Entry, SearchHit
from securellm.mcp.knowledge.search import SearchQuery
from securellm.mcp.knowledge.store import KnowledgeStore

PAGE_SIZE = 25
MAX_QUERY = 500
MAX_TAG = 100
MAX_OFFSET = 100_000
_T = TypeVar("_T")


class BadQuery(ValueError):
    """A search form the store would refuse (shown as a 400 page)."""


@dataclass(frozen=True)
class Search:
    text: str = ""
    type: str = ""
    tag: str = ""
    offset: int = 0


@dataclass(frozen=True)
class Listing:
    hits: list[SearchHit]
    next_offset: int | None
    counts: Counts


def db_path(settings: Settings) -> Path:
    return settings.mcp.knowledge_db_path or settings.data_dir / "knowledge.db"


def parse_search(params: dict[str, str]) -> Search:
    text, kind, tag = params.get("q", "").strip(), params.get("type", ""), params.get("tag", "")
    if len(text) > MAX_QUERY:
        raise BadQuery(f"the search text is at most {MAX_QUERY} characters")
    if kind and kind not in ENTRY_TYPES:
        raise BadQuery(f"type must be one of {', '.join(ENTRY_TYPES)}")
    if len(tag) > MAX_TAG:
        raise BadQuery(f"a tag is at most {MAX_TAG} characters")
    return Search(text, kind, tag.strip().lower(), parse_offset(params.get("offset", "0")))


def parse_offset(raw: str) -> int:
    try:
        offset = int(raw or "0")
    except ValueError:
        raise BadQuery(f"offset must be a whole number, not {raw[:40]!r}") from None
    if not 0 <= offset <= MAX_OFFSET:
        raise BadQuery(f"offset must be between 0 and {MAX_OFFSET}")
    return offset


def parse_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise BadQuery(f"an entry id is a whole number, not {raw[:40]!r}")
    return int(raw)


async def _with_store(settings: Settings, fn: Callable[[KnowledgeStore], _T]) -> _T | None:
    """``fn(store)`` in a thread; ``None`` when there is no knowledge base file."""
    path = db_path(settings)

    def run() -> _T | None:
        if not path.is_file():
            return None
        store = KnowledgeStore(path, busy_timeout_ms=settings.mcp.knowledge_busy_timeout_ms)
        try:
            store.open()
            return fn(store)
        finally:
            store.close()

    return await asyncio.to_thread(run)


async def listing(settings: Settings, search: Search) -> Listing | None:
    """The entries matching ``search`` (newest first without text), with the counts."""
    query = SearchQuery(
        text=search.text or None,
        limit=PAGE_SIZE,
        offset=search.offset,
        types=(search.type,) if search.type else (),
        tags=(search.tag,) if search.tag else (),
    )

    def run(store: KnowledgeStore) -> Listing:
        found = store.search(query)
        return Listing(found.hits, found.next_offset, counts(store))

    return await _with_store(settings, run)


async def entry(settings: Settings, entry_id: int) -> Entry | None:
    """The entry (raises the store's ``NotFoundError``); ``None`` without a knowledge base."""
    return await _with_store(settings, lambda store: store.get(entry_id))


async def delete(settings: Settings, entry_id: int) -> bool | None:
    """True when the entry was there and is gone; ``None`` without a knowledge base."""
    return await _with_store(settings, lambda store: store.delete(entry_id))
