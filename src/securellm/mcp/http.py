"""Streamable HTTP (``--http``): a bearer token on every request, Host and Origin checked.

No anonymous HTTP server can exist: the token comes from ``[mcp] http_token_file`` or
``http_token_env``, or is generated on first start into ``<state dir>/mcp-http-token``
(mode 0600) and reused after. The SDK checks it (``TokenVerifier`` behind its bearer
middleware, which answers 401 with ``WWW-Authenticate: Bearer``), and its DNS-rebinding
protection (``TransportSecuritySettings``) is on for every bind address, with the Host
and Origin names derived from that address plus the configured names.
"""

from __future__ import annotations

import hmac
import os
import secrets
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings

from securellm.core.config import McpSettings
from securellm.core.config.mcp import configured_http_token
from securellm.core.config.secrets import SecretSourceError
from securellm.core.config.sections import is_loopback
from securellm.mcp.errors import HttpStartError

TOKEN_FILE = "mcp-http-token"  # noqa: S105 (a file name)
MIN_TOKEN_CHARS = 16
CLIENT_ID = "securellm-mcp-http"
_WILDCARDS = {"0.0.0.0", "::", ""}


@dataclass(frozen=True)
class HttpToken:
    """The bearer token and where it lives (``source`` may be printed; ``value`` never).

    ``notes`` say what was done to the token file, for the log once logging is set up.
    """

    value: str
    source: str
    notes: tuple[str, ...] = ()


class StaticTokenVerifier:
    """The SDK's ``TokenVerifier`` for one shared secret, compared in constant time."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.encode(), self._token):
            return None
        return AccessToken(token=token, client_id=CLIENT_ID, scopes=[])


def http_token(mcp: McpSettings, state_dir: Path) -> HttpToken:
    """The configured token, else the one in the state dir (created on first start)."""
    try:
        configured = configured_http_token(mcp)
    except SecretSourceError as exc:
        raise HttpStartError(f"{exc}; the MCP HTTP server needs a bearer token") from None
    if configured is not None:
        source = (
            f"the file {mcp.http_token_file}"
            if mcp.http_token_file
            else f"the environment variable {mcp.http_token_env}"
        )
        token = HttpToken(configured.get_secret_value(), source)
    else:
        path = state_dir / TOKEN_FILE
        value, notes = load_or_create_token(path)
        token = HttpToken(value, f"the file {path}", notes)
    if len(token.value) < MIN_TOKEN_CHARS:
        raise HttpStartError(
            f"the bearer token in {token.source} is shorter than {MIN_TOKEN_CHARS} characters"
        )
    return token


def load_or_create_token(path: Path) -> tuple[str, tuple[str, ...]]:
    """Read ``path``, or create it with a new random token, readable by its owner only.

    The token is written to a private temporary file that is then linked into place, so
    ``path`` never exists empty or half-written: a server starting at the same moment
    reads the whole token, and a failed write leaves nothing behind.
    """
    if path.exists():
        return _read_existing(path)
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(token + "\n")
            os.link(temporary, path)
        finally:
            os.unlink(temporary)
    except FileExistsError:
        return _read_existing(path)
    except OSError as exc:
        raise HttpStartError(
            f"cannot create the bearer token file {path}: {exc.strerror}"
        ) from None
    return token, (f"created {path} (mode 0600)",)


def _read_existing(path: Path) -> tuple[str, tuple[str, ...]]:
    notes: tuple[str, ...] = ()
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
            notes = (f"{path} was readable by other users; its mode is now 0600",)
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise HttpStartError(f"cannot read the bearer token file {path}: {exc.strerror}") from None
    if not token:
        raise HttpStartError(f"the bearer token file {path} is empty; delete it to get a new one")
    return token, notes


def listen(host: str, port: int) -> list[socket.socket]:
    """Bound sockets for every address ``host`` names (as asyncio's ``create_server`` binds
    them), so that a port in use is a one-line error before the banner, not a line in the log.
    """
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise HttpStartError(f"cannot listen on {host!r}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise HttpStartError(
            f"cannot listen on {host_header(host, port)}: {exc.strerror}"
        ) from None
    return sockets


def auth_settings(host: str, port: int) -> AuthSettings:
    """Bearer checking only: no OAuth endpoints, no protected-resource metadata.

    ``issuer_url`` is required by the model; with no authorization server provider and no
    ``resource_server_url`` the SDK publishes nothing from it.
    """
    return AuthSettings(issuer_url=endpoint(host, port), resource_server_url=None)


def host_header(name: str, port: int) -> str:
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


def endpoint(host: str, port: int, path: str = "/mcp") -> str:
    return f"http://{host_header(host, port)}{path}"


def bind_names(host: str) -> list[str]:
    """The names a client may use for this bind address (before configured ones)."""
    if host in _WILDCARDS:
        return ["127.0.0.1", "localhost", "::1", socket.gethostname()]
    if host == "localhost":
        return ["localhost", "127.0.0.1", "::1"]
    if is_loopback(host):
        return [host, "localhost"]
    return [host]


def _has_port(name: str) -> bool:
    return "]:" in name if name.startswith("[") else ":" in name


def transport_security(host: str, mcp: McpSettings) -> TransportSecuritySettings:
    """DNS-rebinding protection for this bind: exact host names, and their origins.

    A rebinding attack shows up as a foreign *name* in ``Host``; the port is left free
    (``name:*``) so a published container port or a port-forward still matches.
    """
    names = [f"[{name}]" if ":" in name else name for name in bind_names(host)]
    hosts = [f"{name}:*" for name in names]
    origins = [f"http://{name}:*" for name in names]
    for name in mcp.http_allowed_hosts:
        values = [name] if _has_port(name) else [name, f"{name}:*"]
        hosts += values
        origins += [f"{scheme}://{value}" for value in values for scheme in ("http", "https")]
    origins += mcp.http_allowed_origins
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys(origins)),
    )


def banner(host: str, port: int, token: HttpToken) -> str:
    """What ``--http`` prints to stderr at start: where to connect, where the token is."""
    lines = [
        f"securellm mcp: streamable HTTP at {endpoint(host, port)}",
        f"securellm mcp: bearer token in {token.source}; "
        'clients send "Authorization: Bearer <token>" '
        "(securellm mcp config --client NAME --http URL prints the snippet)",
    ]
    if not is_loopback(host):
        lines.append(
            f"securellm mcp: warning: {host} is reachable from other machines; "
            "put TLS in front and list the names clients use in [mcp] http_allowed_hosts"
        )
    return "\n".join(lines)
