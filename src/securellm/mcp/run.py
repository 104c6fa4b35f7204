"""Start the server on stdio or streamable HTTP, with logging set up before anything else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from securellm.core.config import McpSettings, Settings
from securellm.core.config.mcp import mcp_runtime
from securellm.mcp.errors import InvalidInputError
from securellm.mcp.logsetup import configure_logging


def parse_http_address(value: str) -> tuple[str, int]:
    """``127.0.0.1:8765``, ``[::1]:8765`` or just ``8765`` (on 127.0.0.1) → host and port."""
    if value.isdigit():
        value = f"127.0.0.1:{value}"
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidInputError(f"--http wants HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port_text)


def prepare(settings: Settings, env: Mapping[str, str] | None = None) -> McpSettings:
    """Resolve paths from the environment and send logs to the JSON file."""
    mcp = mcp_runtime(
        settings.mcp, data_dir=settings.data_dir, state_dir=settings.state_dir, env=env
    )
    assert mcp.log_file is not None
    configure_logging(mcp.log_file, debug_to_stderr=mcp.debug_to_stderr)
    return mcp


def serve(settings: Settings, *, http: tuple[str, int] | None = None) -> None:
    """Run until stdin closes (stdio) or the process is stopped (HTTP)."""
    mcp = prepare(settings)
    from securellm.mcp.server import create_server  # after logging: the SDK configures it too

    server = create_server(settings, mcp)
    if http is None:
        anyio.run(server.run_stdio_async)
    else:
        anyio.run(_serve_http, server, *http)


async def _serve_http(server: Any, host: str, port: int) -> None:
    import uvicorn

    app = server.streamable_http_app(host=host)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    await uvicorn.Server(config).serve()
