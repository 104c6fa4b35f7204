"""``[mcp]``: the MCP server for IDE agents."""

from __future__ import annotations

from pathlib import Path

from securellm.core.config.sections import Section


class McpSettings(Section):
    """Knowledge base location and the HTTP APIs the stack tools talk to."""

    knowledge_db_path: Path | None = None
    gateway_url: str = "http://127.0.0.1:8100"
    offload_url: str = "http://127.0.0.1:9000"
