"""``[knowledge]``: how the MCP server's knowledge base finds things."""

from __future__ import annotations

from pydantic import Field

from securellm.core.config.base import Section


class KnowledgeSettings(Section):
    """Semantic search: entries are embedded through the gateway's ``/v1/embeddings``."""

    # Any model the gateway serves embeddings for (e.g. "local/nomic-embed"); None: keyword only.
    embedding_model: str | None = Field(default=None, min_length=1, max_length=256)
    # How long the background embedder waits before trying the gateway again after a failure.
    embedding_retry_s: float = Field(default=30.0, gt=0)
    embedding_batch: int = Field(default=32, ge=1, le=512)
    # Characters of title + content sent to the model per entry.
    embedding_max_chars: int = Field(default=2000, ge=64, le=100_000)
