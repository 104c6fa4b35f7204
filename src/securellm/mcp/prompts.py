"""MCP prompts: short, reusable instructions that drive the tools of the enabled groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from securellm.core.config.mcp import ToolGroup

Topic = Annotated[str, Field(min_length=1, max_length=500, description="what to look up")]
RepoPath = Annotated[str, Field(min_length=1, max_length=4096, description="repository path")]


def summarise_session(session_id: str = "", project: str = "") -> str:
    """Summarise this session into the knowledge base."""
    where = f" with session_id={session_id}" if session_id else ""
    scope = f" and project={project}" if project else ""
    return (
        "Summarise what this session established, as a few knowledge_save calls"
        f"{where}{scope}: one 'decision' per choice made (what and why), one 'error' per "
        "failure solved (symptom, cause, fix), one 'todo' per open item, and one 'note' with "
        "the overall outcome. Give each a short title and 1-3 tags; search with "
        "knowledge_search first and update an existing entry instead of duplicating it. "
        + ("Then call knowledge_session_end with a one-line summary." if session_id else "")
    ).strip()


def recall(topic: Topic) -> str:
    """Recall what the knowledge base holds about a topic before starting work."""
    return (
        f"Before working on {topic!r}, call knowledge_search for it (mode='any', then the "
        "key terms alone) and knowledge_recent; read the relevant entries with knowledge_get "
        "and list the decisions, known errors and open todos that apply, citing entry ids."
    )


def audit_nixos_repo(path: RepoPath) -> str:
    """Audit a NixOS configuration repository for security problems."""
    return (
        f"Audit the NixOS configuration in {path}: run security_audit with path={path!r}, "
        f"then nix_flake_check on {path!r} if it is a flake. Report the findings grouped by "
        "severity (critical first), each with the file, the option involved, why it matters "
        "and the smallest fix as a Nix snippet; end with what the audit could not check."
    )


def register(server: MCPServer[Any], groups: Sequence[ToolGroup]) -> None:
    """Add the prompts whose tools are enabled."""
    if "knowledge" in groups:
        server.prompt(name="summarise_session", title="Summarise the session")(summarise_session)
        server.prompt(name="recall", title="Recall a topic")(recall)
    if "security" in groups:
        server.prompt(name="audit_nixos_repo", title="Audit a NixOS repo")(audit_nixos_repo)
