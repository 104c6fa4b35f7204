"""``nixos_options_search`` and ``nixos_option_info``: NixOS, home-manager and nix-darwin
options from local options.json files (:mod:`securellm.mcp.nix.offline`), no network."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from securellm.mcp.errors import NotFoundError
from securellm.mcp.nix.localindex import Doc
from securellm.mcp.nix.offline import OfflineNix
from securellm.mcp.state import ServerState

GROUP = "nix"  # the tool group these tools belong to (``[mcp] tools``)

Query = Annotated[str, Field(min_length=1, max_length=200, description="words or a name")]
Source = Annotated[
    str | None, Field(max_length=64, description="nixos, home-manager, …; default: all")
]
OptionName = Annotated[
    str, Field(min_length=1, max_length=300, description="e.g. services.nginx.enable")
]
Limit = Annotated[int, Field(ge=1, le=100)]

_READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


class NixOption(BaseModel):
    name: str
    source: str
    type: str | None = None
    description: str | None = None
    default: str | None = None
    example: str | None = None
    read_only: bool = False
    declarations: list[str] = Field(default_factory=list)


class OptionHit(BaseModel):
    name: str
    source: str
    type: str | None = None
    description: str | None = None


class OptionSearch(BaseModel):
    query: str
    options: list[OptionHit]


def _option(doc: Doc) -> NixOption:
    return NixOption(name=doc.name, source=doc.source, **doc.data)


def _hit(doc: Doc, width: int = 240) -> OptionHit:
    text = str(doc.data.get("description") or "")
    short = text if len(text) <= width else text[: width - 1] + "…"
    kind = doc.data.get("type")
    return OptionHit(
        name=doc.name, source=doc.source, type=str(kind) if kind else None, description=short
    )


class OptionTools:
    def __init__(self, offline: OfflineNix) -> None:
        self._offline = offline

    async def nixos_options_search(
        self, query: Query, source: Source = None, limit: Limit = 20
    ) -> OptionSearch:
        """Search NixOS/home-manager/nix-darwin options by name and description (offline)."""
        found = await self._offline.options_search(query, source, limit)
        return OptionSearch(query=query, options=[_hit(doc) for doc in found])

    async def nixos_option_info(self, option: OptionName, source: Source = None) -> NixOption:
        """One option in full: type, default, example, description, declarations."""
        doc, children = await self._offline.option_info(option, source)
        if doc is not None:
            return _option(doc)
        if children:
            shown = ", ".join(children[:20])
            raise NotFoundError(f"{option} is not an option but a set of them: {shown}")
        raise NotFoundError(f"no option named {option}; try nixos_options_search")


def offline_nix(state: ServerState) -> OfflineNix:
    return OfflineNix(state.mcp, state.settings.data_dir, os.environ, Path.home())


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add the options tools to ``server``."""
    tools = OptionTools(offline_nix(state))
    server.add_tool(tools.nixos_options_search, title="Search options", annotations=_READ)
    server.add_tool(tools.nixos_option_info, title="Option details", annotations=_READ)
