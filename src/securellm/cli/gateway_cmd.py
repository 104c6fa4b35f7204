"""``securellm gateway``: run the OpenAI/Anthropic-compatible gateway."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from securellm.cli.common import ConfigOption, settings_or_exit


def gateway(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8100).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Run the OpenAI/Anthropic-compatible gateway."""
    import uvicorn

    overrides: dict[str, Any] = {}
    for name, value in (("host", host), ("port", port), ("workers", workers)):
        if value is not None:
            overrides[name] = value
    settings = (
        settings_or_exit(config, gateway=overrides) if overrides else settings_or_exit(config)
    )
    if config is not None:
        os.environ["SECURELLM_CONFIG"] = str(config.resolve())
    for name, value in overrides.items():
        os.environ[f"SECURELLM_GATEWAY__{name.upper()}"] = str(value)
    gw = settings.gateway
    uvicorn.run(
        "securellm.gateway.app:app_from_environment",
        factory=True,
        host=gw.host,
        port=gw.port,
        workers=gw.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=int(gw.drain_timeout_s),
        ssl_certfile=str(gw.tls_cert_file) if gw.tls_cert_file else None,
        ssl_keyfile=str(gw.tls_key_file) if gw.tls_key_file else None,
    )


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway)
