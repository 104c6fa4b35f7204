"""The neighbourhood of an entry over its ``[[links]]``: both directions, depth-bounded.

A breadth-first walk with a visited set, so cycles (a links b links a) end; each entry
appears once, at its shortest distance from the start.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

from pydantic import BaseModel, Field

from securellm.mcp.knowledge.links import incoming, outgoing, resolve
from securellm.mcp.knowledge.models import Entry
from securellm.mcp.knowledge.store import _ENTRY_COLUMNS, KnowledgeStore, _entry_or_none

MAX_DEPTH = 5
MAX_NODES = 200


class RelatedEntry(BaseModel):
    """An entry near the start, and how many links away."""

    entry: Entry
    distance: int


class LinkEdge(BaseModel):
    """``source`` links to ``target`` (entry numbers)."""

    source: int
    target: int


class Related(BaseModel):
    """What ``knowledge_related`` returns."""

    id: int
    related: list[RelatedEntry]
    links: list[LinkEdge]
    unresolved: list[str] = Field(
        default_factory=list, description="the start's links that name no entry (yet)"
    )
    truncated: bool = False


def neighbours(
    conn: sqlite3.Connection, entry_ids: Iterable[int]
) -> tuple[set[int], set[tuple[int, int]]]:
    """Entries one link away from any of ``entry_ids`` (either direction), and the edges."""
    ids = list(entry_ids)
    edges: set[tuple[int, int]] = set()
    by_source = outgoing(conn, ids)
    targets = resolve(conn, (link for links in by_source.values() for link in links))
    for source, links in by_source.items():
        for link in links:
            target = targets.get(link)
            if target is not None and target != source:
                edges.add((source, target))
    for entry_id in ids:
        edges.update((source, entry_id) for source in incoming(conn, entry_id))
    found = {node for edge in edges for node in edge}
    return found - set(ids), edges


def walk(
    conn: sqlite3.Connection, start: int, depth: int, limit: int = MAX_NODES
) -> tuple[dict[int, int], set[tuple[int, int]], bool]:
    """``{entry: distance}`` within ``depth`` links of ``start``, the edges among them, and
    whether ``limit`` cut the walk short."""
    distance = {start: 0}
    edges: set[tuple[int, int]] = set()
    frontier = {start}
    for step in range(1, depth + 1):
        if not frontier:
            break
        found, new_edges = neighbours(conn, sorted(frontier))
        edges |= new_edges
        frontier = set()
        for node in sorted(found - distance.keys()):
            if len(distance) > limit:
                return distance, _within(edges, distance), True
            distance[node] = step
            frontier.add(node)
    return distance, _within(edges, distance), False


def unresolved_links(conn: sqlite3.Connection, entry_id: int) -> list[str]:
    links = outgoing(conn, [entry_id]).get(entry_id, [])
    known = resolve(conn, links)
    return [f"{link.kind}:{link.target}" for link in links if link not in known]


def related(
    conn: sqlite3.Connection,
    start: int,
    depth: int,
    load: Callable[[Iterable[int]], dict[int, Entry]],
) -> Related:
    """The ``Related`` answer; ``load`` reads entries by number."""
    distance, edges, truncated = walk(conn, start, min(depth, MAX_DEPTH))
    entries = load(node for node in distance if node != start)
    ordered = sorted((d, node) for node, d in distance.items() if node in entries)
    return Related(
        id=start,
        related=[RelatedEntry(entry=entries[node], distance=d) for d, node in ordered],
        links=[LinkEdge(source=s, target=t) for s, t in sorted(edges)],
        unresolved=unresolved_links(conn, start),
        truncated=truncated,
    )


def _within(edges: set[tuple[int, int]], nodes: dict[int, int]) -> set[tuple[int, int]]:
    return {(s, t) for s, t in edges if s in nodes and t in nodes}


def load_entries(conn: sqlite3.Connection, entry_ids: Iterable[int]) -> dict[int, Entry]:
    """Entries by number; missing or corrupt ones are left out."""
    ids = list(entry_ids)
    found: dict[int, Entry] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries e WHERE e.id IN ({marks})",  # noqa: S608
            chunk,
        ).fetchall()
        for row in rows:
            entry = _entry_or_none(row)
            if entry is not None:
                found[entry.id] = entry
    return found


def related_entries(store: KnowledgeStore, entry_id: int, depth: int) -> Related:
    """``knowledge_related``: refuses an unknown start with ``NotFoundError``."""
    store.get(entry_id)
    return store.run(lambda c: related(c, entry_id, depth, lambda ids: load_entries(c, ids)))


def linked_entries(store: KnowledgeStore, entry_ids: list[int], limit: int = 50) -> list[Entry]:
    """Entries one link away from any of ``entry_ids`` (search's ``include_linked``)."""

    def run(conn: sqlite3.Connection) -> list[Entry]:
        found, _ = neighbours(conn, entry_ids)
        entries = load_entries(conn, sorted(found)[:limit])
        return [entries[i] for i in sorted(entries)]

    return store.run(run) if entry_ids else []
