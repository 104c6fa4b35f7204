"""The MCP server: ``create_server(settings)`` builds the parts and registers every tool."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer

from securellm import __version__
from securellm.core.config import McpSettings, Settings
from securellm.mcp.errors import KnowledgeError
from securellm.mcp.knowledge.semantic import build_semantic
from securellm.mcp.knowledge.store import KnowledgeStore
from securellm.mcp.nix.cache import TtlLruCache
from securellm.mcp.nix.runner import NixRunner
from securellm.mcp.secrets import known_secrets
from securellm.mcp.stack.client import StackClient
from securellm.mcp.state import ServerState
from securellm.mcp.tools import knowledge, nix, security, stack

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "securellm tools for coding agents. Keep what you learn across sessions with "
    "knowledge_session_start / knowledge_save / knowledge_search. Inspect and build Nix flakes "
    "with the nix_* tools. Check the local LLM stack with provider_test, models_list, "
    "vram_status, audit_query and security_audit."
)


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
    )
    state.semantic = build_semantic(store, state.stack, settings.knowledge)
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
        log.info("mcp server ready", extra={"db": str(state.store.path)})
        async with anyio.create_task_group() as background:
            if state.semantic is not None:
                background.start_soon(state.semantic.worker.run)
            try:
                yield state
            finally:
                background.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    await state.stack.aclose()
                    await anyio.to_thread.run_sync(state.store.close)

    server: MCPServer[ServerState] = MCPServer(
        "securellm",
        title="securellm",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        warn_on_duplicate_tools=True,
        **auth,
    )
    register_all(server, state)
    return server


def register_all(server: MCPServer[Any], state: ServerState) -> None:
    knowledge.register(server, state)
    nix.register(server, state)
    stack.register(server, state)
    security.register(server, state)
