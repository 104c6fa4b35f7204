"""The server's exceptions. Each one becomes an ``isError`` tool result with its message.

They derive from the SDK's ``ToolError``, so the SDK's call boundary renders them as a
tool error (never a JSON-RPC crash, never a traceback). Messages never carry secrets.
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError


class McpToolError(ToolError):
    """Base of every failure a tool reports to the agent."""


class InvalidInputError(McpToolError):
    """An argument was refused before anything ran (injection attempt, bad shape, too long)."""


class KnowledgeError(McpToolError):
    """The knowledge base could not answer (locked, corrupt row, missing entry)."""


class NotFoundError(KnowledgeError):
    """The entry or session does not exist."""


class NixUnavailableError(McpToolError):
    """``nix`` is not on PATH."""


class NixCommandError(McpToolError):
    """``nix`` ran and failed, timed out or printed too much."""


class UpstreamError(McpToolError):
    """The gateway or offload API failed, is down, or the circuit breaker is open."""


class AuditorUnavailableError(McpToolError):
    """``securellm.nixaudit`` is not installed in this build."""


class HttpStartError(Exception):
    """``--http`` cannot start safely (no usable bearer token); the message says why, never
    the token. Not a tool error: it ends the process with exit code 2."""
