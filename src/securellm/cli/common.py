"""Helpers shared by every sub-command: loading settings, TLS trust and reporting errors."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from securellm.core.config import ConfigError, Settings, load_settings

err_console = Console(stderr=True)
out_console = Console()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (default: $SECURELLM_CONFIG)."),
]

LogLevelOption = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        help="debug, info, warning, error or critical (default: [gateway] log_level, info). "
        "Below info the per-request lines on stdout are off.",
    ),
]

CacertOption = Annotated[
    Path | None,
    typer.Option(
        "--cacert",
        envvar="SECURELLM_CACERT",
        help="CA certificate(s) (PEM) that sign the server's TLS certificate, e.g. a private CA "
        "(default: the system's trust store).",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error to stderr and exit with ``code``.

    The message is printed as written: not parsed as markup (``[offload]`` stays) and not
    wrapped at the terminal width (one line, for logs and scripts).
    """
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None, **overrides: object) -> Settings:
    """Load settings, turning a bad config into a clear message and exit code 2."""
    try:
        return load_settings(config, overrides={k: v for k, v in overrides.items() if v})
    except ConfigError as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        err_console.print(f"[bold red]invalid config[/] {exc.source}:\n{lines}", highlight=False)
        raise typer.Exit(2) from None


def tls_context(cacert: Path | None) -> ssl.SSLContext:
    """Verifying TLS context: the system's trust store, or only the CA file given."""
    try:
        return ssl.create_default_context(cafile=str(cacert) if cacert else None)
    except (OSError, ssl.SSLError) as exc:
        fail(f"cannot use {cacert} as a CA certificate: {exc}", 2)


def gateway_url(settings: Settings) -> str:
    """Where this machine reaches the configured gateway (a wildcard bind means loopback)."""
    gw = settings.gateway
    host = "127.0.0.1" if gw.host in ("0.0.0.0", "::") else gw.host
    host = f"[{host}]" if ":" in host else host
    scheme = "https" if gw.tls_cert_file else "http"
    return f"{scheme}://{host}:{gw.port}"
