"""``securellm cache stats|clear``: asks the running gateway (the cache lives in it or Redis)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from securellm.cli.common import (
    CacertOption,
    ConfigOption,
    fail,
    gateway_url,
    out_console,
    settings_or_exit,
    tls_context,
)
from securellm.core.config import Settings
from securellm.gateway.master import master_key_path

cache_app = typer.Typer(help="Inspect or empty the gateway's response cache.", no_args_is_help=True)


def _admin_key(settings: Settings) -> str:
    if settings.gateway.master_key is not None:
        return settings.gateway.master_key.get_secret_value()
    path = master_key_path(settings)
    if not path.exists():
        fail(f"no master key: set {settings.gateway.master_key_env} or start the gateway once")
    return path.read_text(encoding="utf-8").strip()


UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Gateway URL (default: from [gateway] host, port and TLS)."),
]


def _call(settings: Settings, method: str, url: str | None, cacert: Path | None) -> dict[str, Any]:
    base = (url or gateway_url(settings)).rstrip("/")
    if not base.startswith(("http://", "https://")):
        fail(f"--url must start with http:// or https://, not {base!r}", 2)
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        f"{base}/admin/cache",
        method=method,
        headers={"Authorization": f"Bearer {_admin_key(settings)}"},
    )
    context = tls_context(cacert) if base.startswith("https://") else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
            data: dict[str, Any] = json.loads(response.read())
            return data
    except urllib.error.HTTPError as exc:
        fail(f"gateway answered {exc.code}: {exc.read().decode(errors='replace')[:200]}")
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ssl.SSLError):
            fail(
                f"TLS verification of {base} failed ({exc.reason}); pass --cacert FILE "
                "(or set SECURELLM_CACERT) with the CA that signed the gateway's certificate"
            )
        fail(f"cannot reach the gateway at {base}: {exc.reason}")
    except OSError as exc:
        fail(f"cannot reach the gateway at {base}: {exc}")


@cache_app.command("stats")
def stats(config: ConfigOption = None, cacert: CacertOption = None, url: UrlOption = None) -> None:
    """Hits, misses, hit ratio, entries and backend of the running gateway's cache."""
    data = _call(settings_or_exit(config), "GET", url, cacert)
    for name, value in data.items():
        out_console.print(f"{name:>10}: {value}", highlight=False)


@cache_app.command("clear")
def clear(config: ConfigOption = None, cacert: CacertOption = None, url: UrlOption = None) -> None:
    """Drop every cached response."""
    data = _call(settings_or_exit(config), "DELETE", url, cacert)
    out_console.print(f"cleared {data.get('cleared', 0)} entries", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
