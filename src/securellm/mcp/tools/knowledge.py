"""``knowledge_*`` tools and the ``knowledge://`` resources."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import anyio
import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import ToolAnnotations
from pydantic import Field

from securellm.mcp.errors import InvalidInputError, McpToolError
from securellm.mcp.knowledge.hybrid import NO_MODEL, keyword_only
from securellm.mcp.knowledge.models import (
    Deleted,
    Entry,
    EntryList,
    EntryType,
    SearchPage,
    Session,
)
from securellm.mcp.knowledge.related import MAX_DEPTH, Related, linked_entries, related_entries
from securellm.mcp.knowledge.search import SearchQuery
from securellm.mcp.knowledge.semantic import Semantic
from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry
from securellm.mcp.state import ServerState

GROUP = "knowledge"  # the tool group these tools belong to (``[mcp] tools``)

_T = TypeVar("_T")

MAX_CONTENT = 1_000_000
MAX_METADATA_BYTES = 64_000
SessionId = Annotated[
    str, Field(min_length=32, max_length=32, description="id from knowledge_session_start")
]
Tag = Annotated[str, Field(min_length=1, max_length=64)]
Tags = Annotated[list[Tag], Field(max_length=32)]
Project = Annotated[str, Field(min_length=1, max_length=256)]
Title = Annotated[str, Field(max_length=512)]
Content = Annotated[str, Field(min_length=1, max_length=MAX_CONTENT)]
Limit = Annotated[int, Field(ge=1, le=100)]
Offset = Annotated[int, Field(ge=0, le=100_000)]

_LOCAL_WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
_LOCAL_READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def check_text(**values: object) -> None:
    """Refuse strings that cannot be stored as UTF-8 (lone surrogates from ``\\ud800`` escapes)."""
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str):
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise InvalidInputError(f"{name} is not valid UTF-8 text") from None


def check_metadata(metadata: dict[str, Any] | None) -> None:
    if metadata is None:
        return
    try:
        size = len(orjson.dumps(metadata))
    except TypeError:
        raise InvalidInputError("metadata must be plain JSON with valid UTF-8 text") from None
    if size > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata is larger than {MAX_METADATA_BYTES} bytes as JSON")


async def _in_thread(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


_DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
Agent = Annotated[str, Field(min_length=1, max_length=128, description="e.g. claude-code")]
Workspace = Annotated[str | None, Field(max_length=4096)]
Summary = Annotated[str | None, Field(max_length=100_000)]
EntryId = Annotated[int, Field(ge=1)]
Query = Annotated[str, Field(min_length=1, max_length=1000, description="words to find")]
Types = Annotated[list[EntryType] | None, Field(max_length=6)]
Depth = Annotated[int, Field(ge=1, le=MAX_DEPTH, description="links to follow")]
Time = Annotated[str | None, Field(max_length=64, description="ISO 8601")]


class KnowledgeTools:
    """The knowledge tools; each public coroutine is one MCP tool, run on the store in a
    worker thread so the event loop never waits on SQLite."""

    def __init__(self, store: KnowledgeStore, semantic: Semantic | None = None) -> None:
        self._store = store
        self._semantic = semantic

    def _nudge(self) -> None:
        if self._semantic is not None:
            self._semantic.worker.nudge()

    async def knowledge_session_start(
        self, agent: Agent, workspace: Workspace = None, project: Project | None = None
    ) -> Session:
        """Open a working session; pass its id to knowledge_save to group what you learn."""
        check_text(agent=agent, workspace=workspace, project=project)
        return await _in_thread(self._store.start_session, agent, workspace, project)

    async def knowledge_session_end(
        self, session_id: SessionId, summary: Summary = None
    ) -> Session:
        """Close a session, with a summary of what was done."""
        check_text(summary=summary)
        return await _in_thread(self._store.end_session, session_id, summary)

    async def knowledge_save(
        self,
        content: Content,
        type: EntryType = "note",
        title: Title | None = None,
        tags: Tags | None = None,
        metadata: dict[str, Any] | None = None,
        session_id: SessionId | None = None,
        project: Project | None = None,
    ) -> Entry:
        """Save a note, decision, code snippet, error, reference or todo to the knowledge base."""
        check_text(content=content, title=title, tags=tags, project=project)
        check_metadata(metadata)
        new = NewEntry(
            type=type,
            content=content,
            title=title,
            tags=tuple(tags or ()),
            metadata=metadata,
            session_id=session_id,
            project=project,
        )
        entry = await _in_thread(self._store.save, new)
        self._nudge()
        return entry

    async def knowledge_get(self, id: EntryId) -> Entry:
        """Read one entry by id."""
        return await _in_thread(self._store.get, id)

    async def knowledge_update(
        self,
        id: EntryId,
        content: Content | None = None,
        type: EntryType | None = None,
        title: Title | None = None,
        tags: Tags | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Entry:
        """Change an entry; fields left out keep their value. Tags and metadata are replaced."""
        check_text(content=content, title=title, tags=tags)
        check_metadata(metadata)
        changes = {
            "content": content,
            "type": type,
            "title": title,
            "tags": tags,
            "metadata": metadata,
        }
        entry = await _in_thread(self._store.update, id, changes)
        self._nudge()
        return entry

    async def knowledge_delete(self, id: EntryId) -> Deleted:
        """Delete an entry for good."""
        return Deleted(id=id, deleted=await _in_thread(self._store.delete, id))

    async def knowledge_search(
        self,
        query: Query,
        types: Types = None,
        tags: Tags | None = None,
        session_id: SessionId | None = None,
        project: Project | None = None,
        since: Time = None,
        until: Time = None,
        mode: Literal["all", "any"] = "all",
        limit: Limit = 10,
        offset: Offset = 0,
        include_linked: bool = False,
    ) -> SearchPage:
        """Stemmed full-text search, best first, with filters (fused with embeddings when a
        model is set). "a phrase", word* prefixes; mode=any ranks entries matching more words
        first (all falls back to any); include_linked adds the entries the hits [[link]] to or
        are linked from."""
        check_text(query=query, tags=tags, project=project)
        search = SearchQuery(
            text=query,
            limit=limit,
            offset=offset,
            mode=mode,
            types=tuple(types or ()),
            tags=tuple(tags or ()),
            session_id=session_id,
            project=project,
            since=since,
            until=until,
        )
        if self._semantic is not None:
            page = await self._semantic.search.search(search)
        else:
            page = keyword_only(await _in_thread(self._store.search, search), NO_MODEL)
        if include_linked:
            hit_ids = [hit.entry.id for hit in page.hits]
            linked = await _in_thread(linked_entries, self._store, hit_ids)
            page.linked = [entry for entry in linked if entry.id not in hit_ids]
        return page

    async def knowledge_related(self, id: EntryId, depth: Depth = 1) -> Related:
        """Entries within depth [[links]] of an entry, both directions, nearest first."""
        return await _in_thread(related_entries, self._store, id, depth)

    async def knowledge_recent(
        self,
        limit: Limit = 20,
        offset: Offset = 0,
        type: EntryType | None = None,
        session_id: SessionId | None = None,
        project: Project | None = None,
    ) -> EntryList:
        """The newest entries first, optionally for one type, session or project."""
        check_text(project=project)
        return await _in_thread(
            self._store.recent,
            limit=limit,
            offset=offset,
            session_id=session_id,
            project=project,
            type=type,
        )

    async def entry_resource(self, id: str) -> str:
        """``knowledge://entry/{id}``: one entry as JSON."""
        if not id.isdigit() or len(id) > 18:
            raise ResourceError("entry id must be a number")
        try:
            entry = await _in_thread(self._store.get, int(id))
        except McpToolError as exc:
            raise ResourceError(str(exc)) from None
        return entry.model_dump_json()

    async def session_resource(self, id: str) -> str:
        """``knowledge://session/{id}``: a session and its (newest 100) entries as JSON."""
        try:
            session = await _in_thread(self._store.get_session, id)
            recent = await _in_thread(self._store.recent, limit=100, session_id=id)
        except McpToolError as exc:
            raise ResourceError(str(exc)) from None
        payload = {"session": session.model_dump(), "entries": recent.model_dump()["entries"]}
        return orjson.dumps(payload).decode()


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add the knowledge tools and resources to ``server``."""
    tools = KnowledgeTools(state.store, state.semantic)
    for fn, title, hints in (
        (tools.knowledge_session_start, "Start a session", _LOCAL_WRITE),
        (tools.knowledge_session_end, "End a session", _LOCAL_WRITE),
        (tools.knowledge_save, "Save knowledge", _LOCAL_WRITE),
        (tools.knowledge_get, "Read an entry", _LOCAL_READ),
        (tools.knowledge_update, "Update an entry", _DESTRUCTIVE),
        (tools.knowledge_delete, "Delete an entry", _DESTRUCTIVE),
        (tools.knowledge_search, "Search knowledge", _LOCAL_READ),
        (tools.knowledge_recent, "Recent entries", _LOCAL_READ),
        (tools.knowledge_related, "Related entries", _LOCAL_READ),
    ):
        server.add_tool(fn, title=title, annotations=hints)
    json_type = "application/json"
    server.resource("knowledge://entry/{id}", title="Knowledge entry", mime_type=json_type)(
        tools.entry_resource
    )
    server.resource("knowledge://session/{id}", title="Knowledge session", mime_type=json_type)(
        tools.session_resource
    )
