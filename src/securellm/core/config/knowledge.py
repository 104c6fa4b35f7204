"""``[knowledge]``: how the MCP server's knowledge base finds things."""

from __future__ import annotations

from pydantic import Field, field_validator

from securellm.core.config.base import Section


class KnowledgeSettings(Section):
    """Semantic search: entries are embedded through the gateway's ``/v1/embeddings``."""

    # Any model the gateway serves embeddings for (e.g. "local/nomic-embed"); "auto": one the
    # gateway lists (an embedding model, else a local one; docs/mcp.md); "" or "off": keyword only.
    embedding_model: str | None = Field(default="auto", max_length=256)
    # How long the background embedder waits before trying the gateway again after a failure.
    embedding_retry_s: float = Field(default=30.0, gt=0)
    # Texts per request. 1 by default: llama-cpp-python's server gives worse vectors for a
    # multi-text request for a model with no pooling (Gemma: 9 of 13 right instead of 12).
    embedding_batch: int = Field(default=1, ge=1, le=512)
    # Characters of title + content sent to the model per entry.
    embedding_max_chars: int = Field(default=2000, ge=64, le=100_000)

    @field_validator("embedding_model")
    @classmethod
    def _off(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in ("", "off", "none"):
            return None
        return value.strip()
