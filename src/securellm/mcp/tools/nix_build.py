"""placeholder"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from securellm.mcp.state import ServerState

GROUP = "nix"


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add nothing yet."""
