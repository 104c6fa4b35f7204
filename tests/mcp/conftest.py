"""Fixtures for the MCP server tests: settings in a temp dir, the server, an in-memory client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp import Client
from securellm.core.config import Settings, settings_from_mapping
from securellm.mcp.server import build_state, create_server
from securellm.mcp.state import ServerState

# No network here: tell nix not to try the binary cache. The test flakes build with the
# host's /bin/sh, so the build sandbox (when the kernel gives one) sees the host's /usr.
SANDBOX_PATHS = "/bin /usr /lib /lib64?"
NIX_OFFLINE = ["--option", "substituters", "", "--option", "extra-sandbox-paths", SANDBOX_PATHS]


def make_settings(tmp_path: Path, extra: dict[str, Any] | None = None, **mcp: Any) -> Settings:
    """Settings whose every path is under ``tmp_path``; ``mcp`` overrides ``[mcp]`` keys and
    ``extra`` adds other sections (``gateway``, ``providers``)."""
    section: dict[str, Any] = {
        "knowledge_db_path": str(tmp_path / "knowledge.db"),
        "log_file": str(tmp_path / "mcp.log"),
        "nix_extra_options": NIX_OFFLINE,
        "nix_allowed_roots": [str(tmp_path)],
        **mcp,
    }
    raw: dict[str, Any] = {
        "data_dir": tmp_path,
        "state_dir": tmp_path,
        "log_dir": tmp_path,
        "mcp": section,
        **(extra or {}),
    }
    return settings_from_mapping(raw, env={})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def state(settings: Settings) -> ServerState:
    return build_state(settings)


class Harness:
    """An in-memory client, entered inside the test's own task (``async with harness:``).

    anyio cancel scopes must be exited by the task that entered them, so the client cannot
    live in an async fixture (pytest-asyncio sets up and tears down in different tasks).
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self._client: Client | None = None
        self._stack: Any = None

    @property
    def client(self) -> Client:
        assert self._client is not None, "use 'async with harness:'"
        return self._client

    async def __aenter__(self) -> Harness:
        self._client = Client(self.server)
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._client is not None
        await self._client.__aexit__(*exc)  # type: ignore[arg-type]
        self._client = None

    async def call(self, name: str, **arguments: Any) -> dict[str, Any]:
        """The structured result; fails the test on a tool error."""
        return structured(await self.client.call_tool(name, arguments))

    async def error(self, name: str, **arguments: Any) -> str:
        """The error text; fails the test when the call succeeds."""
        return error_text(await self.client.call_tool(name, arguments))


@pytest.fixture
def harness(settings: Settings, state: ServerState) -> Harness:
    return Harness(create_server(settings, state=state))


def structured(result: Any) -> dict[str, Any]:
    """The structured content of a successful tool call."""
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


def error_text(result: Any) -> str:
    """The text of a tool error."""
    assert result.is_error, result.structured_content
    return " ".join(getattr(part, "text", "") for part in result.content)


@pytest.fixture
def make_harness(tmp_path: Path) -> Any:
    """``make_harness(nix_binary=...)``: a harness whose ``[mcp]`` section has these overrides."""

    def make(extra: dict[str, Any] | None = None, **mcp: Any) -> Harness:
        return Harness(create_server(make_settings(tmp_path, extra, **mcp)))

    return make


@pytest.fixture
def make_state(tmp_path: Path) -> Any:
    """``make_state(extra, **mcp)``: the server's parts, for tests that look inside them."""

    def make(extra: dict[str, Any] | None = None, **mcp: Any) -> ServerState:
        return build_state(make_settings(tmp_path, extra, **mcp))

    return make


@pytest.fixture
def harness_for() -> Any:
    """``harness_for(state)``: a harness around a server built on ``state``."""
    return lambda state: Harness(create_server(state.settings, state=state))
