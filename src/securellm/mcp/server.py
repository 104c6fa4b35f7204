"""The MCP server: ``create_server(settings)`` builds the parts and registers every tool."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_types import Tool

from securellm import __version__
from securellm.core.config import McpSettings, Settings
from securellm.core.config.mcp import ToolGroup
from securellm.mcp import prompts
from securellm.mcp.errors import KnowledgeError, McpToolError
from securellm.mcp.knowledge.auto_model import LOCAL_KINDS
from securellm.mcp.knowledge.semantic import build_semantic
from securellm.mcp.knowledge.store import KnowledgeStore
from securellm.mcp.nix.cache import TtlLruCache
from securellm.mcp.nix.runner import NixRunner
from securellm.mcp.schema import compact, shallow
from securellm.mcp.secrets import known_secrets
from securellm.mcp.stack.client import StackClient
from securellm.mcp.state import ServerState
from securellm.mcp.tools import knowledge, nix, nix_build, nix_options, security, stack

if TYPE_CHECKING:
    from securellm.mcp.knowledge.sync import FolderSync

log = logging.getLogger(__name__)
Register = Callable[[MCPServer[Any], ServerState], None]
# Each tools module names its group (``GROUP``) beside its ``register``; add a module here.
TOOL_MODULES = (knowledge, nix, nix_options, nix_build, stack, security)

INSTRUCTIONS: dict[str, str] = {
    "knowledge": "Keep what you learn across sessions with knowledge_session_start / "
    "knowledge_save / knowledge_search.",
    "nix": "Inspect, build and test Nix flakes with the nix_* tools, build_and_test and "
    "package_diagnose; look up NixOS options (nixos_options_search) and packages "
    "(nix_search) offline.",
    "stack": "Check the local LLM stack with provider_test, models_list, vram_status and "
    "audit_query.",
    "security": "Audit the config and NixOS repositories with security_audit.",
}


def instructions(groups: Sequence[ToolGroup]) -> str:
    """The server's instructions, naming only the tools of the enabled groups."""
    parts = [INSTRUCTIONS[group] for group in INSTRUCTIONS if group in groups]
    return " ".join(["securellm tools for coding agents.", *parts])


def build_state(settings: Settings, mcp: McpSettings | None = None) -> ServerState:
    """Construct the server's parts from settings; nothing is opened yet."""
    mcp = mcp or settings.mcp
    db_path = mcp.knowledge_db_path or settings.data_dir / "knowledge.db"
    master = settings.gateway.master_key
    store = KnowledgeStore(db_path, busy_timeout_ms=mcp.knowledge_busy_timeout_ms)
    state = ServerState(
        settings=settings,
        mcp=mcp,
        store=store,
        nix=NixRunner(
            mcp.nix_binary,
            extra_options=mcp.nix_extra_options,
            build_users_group=mcp.nix_build_users_group,
            max_output_bytes=mcp.nix_max_output_bytes,
        ),
        cache=TtlLruCache(mcp.cache_size, mcp.cache_ttl_s),
        stack=StackClient.create(
            gateway_url=mcp.gateway_url,
            offload_url=mcp.offload_url,
            master_key=master.get_secret_value() if master else None,
            timeout_s=mcp.http_timeout_s,
            rate_per_s=mcp.http_rate_per_s,
            burst=mcp.http_burst,
            breaker_failures=mcp.breaker_failures,
            breaker_reset_s=mcp.breaker_reset_s,
            secrets=known_secrets(settings),
        ),
        sync_dir=mcp.knowledge_sync_dir.expanduser() if mcp.knowledge_sync_dir else None,
    )
    local = frozenset(p.name for p in settings.providers if p.kind in LOCAL_KINDS)
    state.semantic = build_semantic(store, state.stack, settings.knowledge, local)
    return state


def create_server(
    settings: Settings,
    mcp: McpSettings | None = None,
    *,
    state: ServerState | None = None,
    http: tuple[str, int, str] | None = None,
) -> MCPServer[ServerState]:
    """An ``MCPServer`` with every securellm tool and resource registered.

    ``http`` (host, port, bearer token) turns on the SDK's bearer-token check for the
    streamable HTTP app; stdio needs none (the client started the process).
    """
    state = state or build_state(settings, mcp)
    auth: dict[str, Any] = {}
    if http is not None:
        from securellm.mcp.http import StaticTokenVerifier, auth_settings

        host, port, token = http
        auth = {"auth": auth_settings(host, port), "token_verifier": StaticTokenVerifier(token)}

    @asynccontextmanager
    async def lifespan(_: MCPServer[ServerState]) -> AsyncIterator[ServerState]:
        try:
            await anyio.to_thread.run_sync(state.store.open)
        except KnowledgeError as exc:
            # The other tools still work; knowledge tools will report the problem.
            log.error("knowledge base unavailable", extra={"error": str(exc)})
        sync = await start_sync(state)
        log.info("mcp server ready", extra={"db": str(state.store.path)})
        async with anyio.create_task_group() as background:
            if state.semantic is not None:
                background.start_soon(state.semantic.worker.run)
            try:
                yield state
            finally:
                background.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    if sync is not None:
                        await anyio.to_thread.run_sync(sync.stop)
                    await state.stack.aclose()
                    await anyio.to_thread.run_sync(state.store.close)

    server = LeanServer(
        "securellm",
        title="securellm",
        version=__version__,
        instructions=instructions(state.mcp.tools),
        lifespan=lifespan,
        warn_on_duplicate_tools=True,
        **auth,
    )
    server.full_schemas = state.mcp.tool_schemas == "full"
    register_all(server, state, state.mcp.tools)
    return server


class LeanServer(MCPServer[ServerState]):
    """``tools/list`` with compact schemas (:mod:`securellm.mcp.schema`), built once."""

    _listed: list[Tool] | None = None
    full_schemas = False

    async def list_tools(self) -> list[Tool]:
        if self.full_schemas:
            return await super().list_tools()
        if self._listed is None:
            self._listed = [
                tool.model_copy(
                    update={
                        "input_schema": compact(tool.input_schema),
                        "output_schema": shallow(tool.output_schema)
                        if tool.output_schema is not None
                        else None,
                    }
                )
                for tool in await super().list_tools()
            ]
        return self._listed


def register_all(server: MCPServer[Any], state: ServerState, groups: Sequence[ToolGroup]) -> None:
    """Register the tools (and prompts) of ``groups``; the others are not offered at all."""
    for module in TOOL_MODULES:
        if module.GROUP in groups:
            module.register(server, state)
    prompts.register(server, groups)


async def start_sync(state: ServerState) -> FolderSync | None:
    """Start ``[mcp] knowledge_sync_dir``'s two-way sync; a failure is logged, not fatal."""
    if state.sync_dir is None:
        return None
    from securellm.mcp.knowledge.sync import FolderSync

    sync = FolderSync(state.store, state.sync_dir, polling=state.mcp.knowledge_sync_polling)
    try:
        await anyio.to_thread.run_sync(sync.start)
    except (McpToolError, OSError) as exc:
        log.error("knowledge sync unavailable", extra={"error": str(exc)})
        await anyio.to_thread.run_sync(sync.stop)
        return None
    return sync
