"""The agents' shared knowledge base: SQLite in WAL mode with an FTS5 index."""

from securellm.mcp.knowledge.models import (
    ENTRY_TYPES,
    Entry,
    EntryType,
    SearchHit,
    SearchPage,
    Session,
)
from securellm.mcp.knowledge.store import KnowledgeStore, SearchQuery

__all__ = [
    "ENTRY_TYPES",
    "Entry",
    "EntryType",
    "KnowledgeStore",
    "SearchHit",
    "SearchPage",
    "SearchQuery",
    "Session",
]
