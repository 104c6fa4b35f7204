"""The shapes every agent module fills in: where the gateway is, and what to set."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Format = Literal["json", "toml", "yaml"]


@dataclass(frozen=True)
class Target:
    """The gateway an agent is pointed at, and how the agent starts ``securellm mcp``.

    ``key_env`` names the environment variable that holds a virtual key: the key itself is
    never known here, so it cannot be printed or written.
    """

    gateway_url: str  # the server root, e.g. http://127.0.0.1:8100
    key_env: str
    model: str
    home: Path
    mcp_command: str
    mcp_args: tuple[str, ...]
    max_output_tokens: int | None = None

    @property
    def openai_base(self) -> str:
        """The OpenAI-style base URL (with ``/v1``)."""
        return f"{self.gateway_url.rstrip('/')}/v1"

    @property
    def key_ref(self) -> str:
        """A shell reference to the key, for lines the user pastes into a shell."""
        return f"${self.key_env}"

    def mcp_server(self) -> dict[str, Any]:
        """The stdio MCP server entry most agents take: command and args."""
        return {"command": self.mcp_command, "args": list(self.mcp_args)}


@dataclass(frozen=True)
class ConfigFile:
    """A document merged into one of the agent's config files."""

    path: Path
    format: Format
    content: dict[str, Any]
    what: str


@dataclass(frozen=True)
class Setup:
    """Everything that points one agent at the gateway."""

    agent: str
    source: str  # where the format was read from (package and version)
    env: dict[str, str] = field(default_factory=dict)
    files: tuple[ConfigFile, ...] = ()
    commands: tuple[tuple[str, ...], ...] = ()
    notes: tuple[str, ...] = ()
