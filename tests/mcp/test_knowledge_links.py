"""[[links]] between entries and knowledge_related, through the SDK's in-memory client."""

from __future__ import annotations

from typing import Any

from securellm.mcp.knowledge.links import LinkTarget, parse_links

H = Any  # the Harness fixture from conftest


async def save(h: H, title: str, content: str) -> int:
    entry = await h.call("knowledge_save", title=title, content=content)
    return int(entry["id"])


def related_ids(result: dict[str, Any]) -> dict[int, int]:
    return {item["entry"]["id"]: item["distance"] for item in result["related"]}


def test_links_are_parsed_by_title_number_and_stable_id() -> None:
    uid = "0123456789abcdef0123456789abcdef"
    content = f"see [[Deploy Notes]], [[42|the answer]], [[{uid.upper()}]] and [[Deploy notes]]"
    assert parse_links(content) == [
        LinkTarget("title", "deploy notes"),
        LinkTarget("id", "42"),
        LinkTarget("uid", uid),
    ]


def test_text_without_double_brackets_has_no_links() -> None:
    assert parse_links("a [single] bracket, [[ ]] and [[unclosed") == []


async def test_related_follows_links_in_both_directions(harness: H) -> None:
    async with harness as h:
        a = await save(h, "Alpha", "links to [[Beta]]")
        b = await save(h, "Beta", "no links here")
        c = await save(h, "Gamma", "points at [[beta]] too")
        from_b = await h.call("knowledge_related", id=b)
    assert related_ids(from_b) == {a: 1, c: 1}
    assert {(e["source"], e["target"]) for e in from_b["links"]} == {(a, b), (c, b)}


async def test_depth_bounds_the_neighbourhood(harness: H) -> None:
    async with harness as h:
        a = await save(h, "A", "[[B]]")
        b = await save(h, "B", "[[C]]")
        c = await save(h, "C", "[[D]]")
        await save(h, "D", "end")
        one = await h.call("knowledge_related", id=a, depth=1)
        two = await h.call("knowledge_related", id=a, depth=2)
    assert related_ids(one) == {b: 1}
    assert related_ids(two) == {b: 1, c: 2}


async def test_cycles_end_and_each_entry_appears_once(harness: H) -> None:
    async with harness as h:
        a = await save(h, "Ping", "[[Pong]]")
        b = await save(h, "Pong", "[[Ping]]")
        result = await h.call("knowledge_related", id=a, depth=5)
    assert related_ids(result) == {b: 1}


async def test_unresolved_link_resolves_when_its_target_appears(harness: H) -> None:
    async with harness as h:
        a = await save(h, "Plan", "depends on [[Later Note]]")
        before = await h.call("knowledge_related", id=a)
        later = await save(h, "Later note", "written afterwards")
        after = await h.call("knowledge_related", id=a)
    assert before["related"] == []
    assert before["unresolved"] == ["title:later note"]
    assert related_ids(after) == {later: 1}
    assert after["unresolved"] == []


async def test_link_by_number_counts(harness: H) -> None:
    async with harness as h:
        target = await save(h, "Target", "body")
        source = await save(h, "Source", f"see [[{target}]]")
        result = await h.call("knowledge_related", id=target)
    assert related_ids(result) == {source: 1}


async def test_editing_content_replaces_its_links(harness: H) -> None:
    async with harness as h:
        a = await save(h, "Editable", "[[Old]]")
        old = await save(h, "Old", "x")
        new = await save(h, "New", "y")
        await h.call("knowledge_update", id=a, content="now [[New]] only")
        result = await h.call("knowledge_related", id=a)
    assert related_ids(result) == {new: 1}
    assert old not in related_ids(result)


async def test_deleting_an_entry_drops_its_links(harness: H) -> None:
    async with harness as h:
        a = await save(h, "Gone", "[[Stays]]")
        b = await save(h, "Stays", "x")
        await h.call("knowledge_delete", id=a)
        result = await h.call("knowledge_related", id=b)
    assert result["related"] == []


async def test_search_can_include_linked_entries(harness: H) -> None:
    async with harness as h:
        hit = await save(h, "Cache eviction", "evicts least recently used; see [[LRU design]]")
        linked = await save(h, "LRU design", "a doubly linked list and a map")
        plain = await h.call("knowledge_search", query="evicts")
        rich = await h.call("knowledge_search", query="evicts", include_linked=True)
    assert [x["entry"]["id"] for x in rich["hits"]] == [hit]
    assert plain["linked"] == []
    assert [e["id"] for e in rich["linked"]] == [linked]


async def test_related_of_a_missing_entry_is_a_tool_error(harness: H) -> None:
    async with harness as h:
        message = await h.error("knowledge_related", id=999)
    assert "999" in message


async def test_depth_above_the_bound_is_refused(harness: H) -> None:
    async with harness as h:
        a = await save(h, "Deep", "x")
        message = await h.error("knowledge_related", id=a, depth=50)
    assert "depth" in message
