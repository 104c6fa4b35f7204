"""What the knowledge tools return (their output schemas)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

EntryType = Literal["note", "decision", "code", "error", "reference", "todo"]
ENTRY_TYPES: tuple[str, ...] = get_args(EntryType)


class Session(BaseModel):
    """One agent's working session in a workspace."""

    id: str
    agent: str
    workspace: str | None = None
    project: str | None = None
    started_at: str
    ended_at: str | None = None
    summary: str | None = None
    entry_count: int = 0


class Entry(BaseModel):
    """One saved piece of knowledge."""

    id: int
    type: EntryType
    title: str | None = None
    content: str
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    session_id: str | None = None
    project: str | None = None
    created_at: str
    updated_at: str


class SearchHit(BaseModel):
    """A hit; score: lower is better (bm25, or minus the fused rank score in hybrid mode)."""

    entry: Entry
    score: float
    snippet: str


class SearchPage(BaseModel):
    """One page of search or listing results."""

    hits: list[SearchHit]
    next_offset: int | None = Field(
        default=None, description="pass as offset to get the next page; null when done"
    )
    corrupt_skipped: int = Field(default=0, description="rows left out because they are corrupt")
    mode: Literal["hybrid", "keyword"] = Field(
        default="keyword", description="hybrid: bm25 and embeddings fused; keyword: bm25 alone"
    )
    keyword_reason: str | None = Field(
        default=None, description="why a search was keyword only (no model, gateway down)"
    )
    terms: Literal["all", "any"] | None = Field(
        default=None,
        description="which words a hit had to contain: 'any' when no entry had them all "
        "(hits matching more of them first)",
    )
    linked: list[Entry] = Field(
        default_factory=list, description="entries the hits link to or are linked from"
    )


class EntryList(BaseModel):
    """A page of entries in recency order."""

    entries: list[Entry]
    next_offset: int | None = None
    corrupt_skipped: int = 0


class Deleted(BaseModel):
    """The outcome of a delete."""

    id: int
    deleted: bool
