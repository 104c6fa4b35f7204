"""``securellm cache stats|clear``: asks the running gateway (the cache lives in it or Redis)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import typer

from securellm.cli.common import ConfigOption, fail, out_console, settings_or_exit
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


def _call(settings: Settings, method: str) -> dict[str, Any]:
    gw = settings.gateway
    host = "127.0.0.1" if gw.host in ("0.0.0.0", "::") else gw.host
    scheme = "https" if gw.tls_cert_file else "http"
    request = urllib.request.Request(  # noqa: S310 (scheme is http or https)
        f"{scheme}://{host}:{gw.port}/admin/cache",
        method=method,
        headers={"Authorization": f"Bearer {_admin_key(settings)}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            data: dict[str, Any] = json.loads(response.read())
            return data
    except urllib.error.HTTPError as exc:
        fail(f"gateway answered {exc.code}: {exc.read().decode(errors='replace')[:200]}")
    except OSError as exc:
        fail(f"cannot reach the gateway at {host}:{gw.port}: {exc}")


@cache_app.command("stats")
def stats(config: ConfigOption = None) -> None:
    """Hits, misses, hit ratio, entries and backend of the running gateway's cache."""
    data = _call(settings_or_exit(config), "GET")
    for name, value in data.items():
        out_console.print(f"{name:>10}: {value}", highlight=False)


@cache_app.command("clear")
def clear(config: ConfigOption = None) -> None:
    """Drop every cached response."""
    data = _call(settings_or_exit(config), "DELETE")
    out_console.print(f"cleared {data.get('cleared', 0)} entries", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
