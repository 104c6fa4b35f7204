"""The MCP server for IDE agents: knowledge base, Nix tools, provider and security tools."""

from securellm.mcp.server import build_state, create_server

__all__ = ["build_state", "create_server"]
