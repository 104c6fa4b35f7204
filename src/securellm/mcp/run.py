"""Start the server on stdio or streamable HTTP, with logging set up before anything else."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Mapping
from typing import Any

import anyio

from securellm.core.config import McpSettings, Settings
from securellm.core.config.mcp import mcp_runtime
from securellm.mcp.errors import InvalidInputError
from securellm.mcp.logsetup import configure_logging
from securellm.mcp.secrets import known_secrets

log = logging.getLogger(__name__)


def parse_http_address(value: str) -> tuple[str, int]:
    """``127.0.0.1:8765``, ``[::1]:8765`` or just ``8765`` (on 127.0.0.1) → host and port."""
    if value.isdigit():
        value = f"127.0.0.1:{value}"
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidInputError(f"--http wants HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port_text)


def prepare(
    settings: Settings, env: Mapping[str, str] | None = None, *, extra_secrets: tuple[str, ...] = ()
) -> McpSettings:
    """Resolve paths from the environment and send logs to the JSON file, secrets masked."""
    mcp = mcp_runtime(
        settings.mcp, data_dir=settings.data_dir, state_dir=settings.state_dir, env=env
    )
    assert mcp.log_file is not None
    configure_logging(
        mcp.log_file,
        debug_to_stderr=mcp.debug_to_stderr,
        secrets=known_secrets(settings, *extra_secrets),
    )
    return mcp


def serve(settings: Settings, *, http: tuple[str, int] | None = None) -> None:
    """Run until stdin closes (stdio) or the process is stopped (HTTP).

    Raises :class:`~securellm.mcp.errors.HttpStartError` when HTTP cannot start safely.
    """
    if http is not None:
        serve_http(settings, *http)
        return
    mcp = prepare(settings)
    from securellm.mcp.server import create_server  # after logging: the SDK configures it too
    from securellm.mcp.stdio import run_stdio

    server = create_server(settings, mcp)
    anyio.run(run_stdio, server)


def serve_http(settings: Settings, host: str, port: int) -> None:
    """Streamable HTTP with a bearer token and DNS-rebinding protection (:mod:`.http`)."""
    from securellm.mcp import http as web

    token = web.http_token(settings.mcp, settings.state_dir)
    mcp = prepare(settings, extra_secrets=(token.value,))
    from securellm.mcp.server import create_server

    server = create_server(settings, mcp, http=(host, port, token.value))
    sockets = web.listen(host, port)
    for note in token.notes:
        log.info("mcp http token: %s", note)
    log.info("mcp http", extra={"url": web.endpoint(host, port), "token_source": token.source})
    sys.stderr.write(web.banner(host, port, token) + "\n")
    sys.stderr.flush()
    security = web.transport_security(host, mcp)
    app = server.streamable_http_app(host=host, transport_security=security)
    anyio.run(_serve_http, app, host, port, sockets)


async def _serve_http(app: Any, host: str, port: int, sockets: list[socket.socket]) -> None:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    await uvicorn.Server(config).serve(sockets=sockets)
