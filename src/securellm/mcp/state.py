"""Everything the tools share, built once by :func:`securellm.mcp.server.create_server`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from securellm.core.config import McpSettings, Settings
from securellm.mcp.knowledge.semantic import Semantic
from securellm.mcp.knowledge.store import KnowledgeStore
from securellm.mcp.nix.cache import TtlLruCache
from securellm.mcp.nix.runner import NixRunner
from securellm.mcp.stack.client import StackClient


@dataclass
class ServerState:
    """The server's parts; tools reach them through this object, never through globals."""

    settings: Settings
    mcp: McpSettings
    store: KnowledgeStore
    nix: NixRunner
    cache: TtlLruCache
    stack: StackClient
    sync_dir: Path | None = None
    semantic: Semantic | None = None  # hybrid search unless [knowledge] embedding_model is "off"
