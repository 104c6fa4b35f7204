"""A search's filters applied to an entry in Python (for hits found by embedding, not SQL)."""

from __future__ import annotations

from securellm.mcp.knowledge.models import Entry
from securellm.mcp.knowledge.search import SearchQuery, normalise_time


def matches(entry: Entry, query: SearchQuery) -> bool:
    """Whether ``entry`` passes the same filters the SQL search applies."""
    if query.types and entry.type not in query.types:
        return False
    if any(tag.strip().lower() not in entry.tags for tag in query.tags):
        return False
    if query.session_id is not None and entry.session_id != query.session_id:
        return False
    if query.project is not None and entry.project != query.project:
        return False
    if query.since is not None and entry.created_at < normalise_time(query.since, "since"):
        return False
    return not (
        query.until is not None and entry.created_at >= normalise_time(query.until, "until")
    )
