"""The start banner of ``securellm gateway`` and ``securellm up``, written to stderr.

One screen: the URL, each provider (kind, base URL, whether it answers a quick probe),
the master key's origin, the audit trail, the database, the shared state and the request
log. stdout is left to the request log, so a reader of its JSON lines never meets it.
Credentials are never shown: URLs lose their password and query, keys are named by the
variable or file they come from.
"""

from __future__ import annotations

import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from securellm import __version__
from securellm.cli.common import gateway_url
from securellm.core.config import ProviderSettings, Settings
from securellm.core.config.loader import master_key_origin
from securellm.gateway.master import master_key_path

PROBE_TIMEOUT_S = 1.5
PROBE_PATHS = {"openai": "/models", "anthropic": "/v1/models", "ollama": "/api/version"}


@dataclass(frozen=True)
class Reachability:
    """What one unauthenticated GET to a provider answered."""

    reachable: bool
    detail: str

    def __str__(self) -> str:
        return f"{'reachable' if self.reachable else 'unreachable'} ({self.detail})"


def probe(provider: ProviderSettings, timeout_s: float = PROBE_TIMEOUT_S) -> Reachability:
    """GET the provider's model list without a key: any HTTP answer means it is reachable
    (cloud APIs answer 401 to a probe that sends no key, which is expected)."""
    url = provider.effective_base_url + PROBE_PATHS.get(provider.dialect, "")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:  # noqa: S310 (config URL)
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except urllib.error.URLError as exc:
        return Reachability(False, _reason(exc.reason, timeout_s))
    except TimeoutError:
        return Reachability(False, f"no answer within {timeout_s:g} s")
    except OSError as exc:
        return Reachability(False, _reason(exc, timeout_s))
    elapsed_ms = (time.perf_counter() - started) * 1000
    return Reachability(True, f"HTTP {status}, {elapsed_ms:.0f} ms")


def _reason(reason: object, timeout_s: float) -> str:
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "host name not resolved"
    return str(getattr(reason, "strerror", None) or reason)


def probe_all(
    providers: tuple[ProviderSettings, ...], timeout_s: float = PROBE_TIMEOUT_S
) -> dict[str, Reachability]:
    """Every provider probed at once: the banner waits ``timeout_s`` at most."""
    if not providers:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(providers))) as pool:
        results = pool.map(lambda p: probe(p, timeout_s), providers)
        return {p.name: result for p, result in zip(providers, results, strict=True)}


def public_url(url: str) -> str:
    """``url`` without its password, query and fragment (``postgresql://u@host/db``)."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url.split("?", 1)[0]
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}"


def database_line(settings: Settings) -> str:
    url = settings.database_url
    if url.startswith("sqlite"):
        return "SQLite " + url.split(":///", 1)[-1]
    return "PostgreSQL " + public_url(url)


def master_key_line(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    origin = master_key_origin(settings, env)
    if origin is None:
        return f"generated file {master_key_path(settings)}"
    if origin == "config file" and settings.source is not None:
        return f"config file {settings.source}"
    return origin


def audit_line(settings: Settings) -> str:
    if not settings.audit.enabled:
        return "off ([audit] enabled = false)"
    days = settings.audit.retention_days
    return f"{settings.audit_dir} (hash-chained JSONL, kept {days} days)"


def state_line(settings: Settings) -> str:
    redis_url = settings.gateway.redis_url
    if redis_url:
        return f"Redis {public_url(redis_url)}"
    workers = settings.gateway.workers
    return f"in-process ({workers} worker{'s' if workers > 1 else ''}, no Redis)"


def request_log_line(settings: Settings) -> str:
    gw = settings.gateway
    if gw.request_log:
        return f"one JSON line per request on stdout (log level {gw.log_level})"
    why = "access_log = false" if not gw.access_log else f"log level {gw.log_level}"
    return f"off ({why})"


def provider_lines(settings: Settings, reach: dict[str, Reachability]) -> list[str]:
    if not settings.providers:
        return ["  (none configured)"]
    rows = [
        (p.name, p.kind, public_url(p.effective_base_url), str(reach.get(p.name, "not probed")))
        for p in settings.providers
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  " + row[3]
        for row in rows
    ]  # fmt: skip


def render(settings: Settings, reach: dict[str, Reachability]) -> str:
    """The banner's text (no trailing newline)."""
    url = gateway_url(settings)
    lines = [
        f"securellm gateway {__version__}: {url}",
        f"  OpenAI API: {url}/v1  Anthropic API: {url}/v1/messages",
        "providers:",
        *provider_lines(settings, reach),
        f"master key:   {master_key_line(settings)}",
        f"audit trail:  {audit_line(settings)}",
        f"database:     {database_line(settings)}",
        f"shared state: {state_line(settings)}",
        f"request log:  {request_log_line(settings)}",
    ]
    return "\n".join(lines)


def write_banner(settings: Settings, after: str = "") -> None:
    """Probe the providers, then write the banner (and ``after``) to stderr."""
    text = render(settings, probe_all(settings.providers))
    sys.stderr.write(text + "\n" + after)
    sys.stderr.flush()
