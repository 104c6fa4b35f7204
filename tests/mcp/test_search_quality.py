"""Search quality, keyword only: the note a person means comes first for most queries.

The corpus (tests/support/search_corpus.py) is searched through the real ``knowledge_search``
tool with the SDK's client, in the default mode, the way an agent would ask.
"""

from __future__ import annotations

from typing import Any

from support.search_corpus import NOTES, QUERIES

Harness = Any  # the harness fixture from conftest

# At least 10 of every 12 queries (the bar for keyword-only search).
REQUIRED = -(-len(QUERIES) * 10 // 12)


async def _load(h: Harness) -> dict[int, str]:
    keys = {}
    for note in NOTES:
        saved = await h.call(
            "knowledge_save",
            content=note.content,
            title=note.title,
            tags=list(note.tags),
            type=note.type,
        )
        keys[saved["id"]] = note.key
    return keys


async def test_the_right_note_ranks_first_for_most_queries(harness: Harness) -> None:
    async with harness as h:
        keys = await _load(h)
        firsts = {}
        for query in QUERIES:
            page = await h.call("knowledge_search", query=query.text, limit=3)
            firsts[query.text] = keys[page["hits"][0]["entry"]["id"]] if page["hits"] else None
    right = [q.text for q in QUERIES if firsts[q.text] == q.expected]
    assert len(right) >= REQUIRED, {q.text: (firsts[q.text], q.expected) for q in QUERIES}


async def test_every_inflected_query_finds_its_note_first(harness: Harness) -> None:
    async with harness as h:
        keys = await _load(h)
        for query in (q for q in QUERIES if q.kind == "inflection"):
            page = await h.call("knowledge_search", query=query.text, limit=1)
            assert keys[page["hits"][0]["entry"]["id"]] == query.expected, query.text
