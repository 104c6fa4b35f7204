"""``[mcp]``: the MCP server for IDE agents.

The three environment variables the seeds' server honoured (``KNOWLEDGE_DB_PATH``,
``DEBUG_TO_STDERR``, ``STATE_DIRECTORY``) are read here, by :func:`mcp_runtime`, and
nowhere else; so is the ``--http`` bearer token's ``http_token_env``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from securellm.core.config.secrets import resolve_secret
from securellm.core.config.sections import Section

SERVICE_KNOWLEDGE_DB = Path("/var/lib/mcp-knowledge/knowledge.db")
NIXOS_CONFIG_DIR = Path("/etc/nixos")
_TRUE = {"1", "true", "yes", "on"}
ToolGroup = Literal["knowledge", "nix", "stack", "security"]
TOOL_GROUPS: tuple[ToolGroup, ...] = ("knowledge", "nix", "stack", "security")


class McpSettings(Section):
    """Knowledge base location, logging, Nix limits and the HTTP APIs the stack tools use."""

    knowledge_db_path: Path | None = None
    knowledge_busy_timeout_ms: int = Field(default=5000, ge=0, le=600_000)
    # Two-way sync of the knowledge base with a folder of Markdown files (None: off).
    knowledge_sync_dir: Path | None = None
    # Poll the folder instead of inotify (network file systems, containers).
    knowledge_sync_polling: bool = False
    log_file: Path | None = None
    debug_to_stderr: bool = False
    # Tool groups the server offers (``--tools knowledge,nix``); fewer tools, shorter tools/list.
    tools: tuple[ToolGroup, ...] = TOOL_GROUPS
    # "lean": compact input schemas, output schemas cut to {"type": "object"} (tools/list is
    # sent every turn); "full": pydantic's schemas as they are.
    tool_schemas: Literal["lean", "full"] = "lean"
    gateway_url: str = "http://127.0.0.1:8100"
    offload_url: str = "http://127.0.0.1:9000"
    # Nix tools
    nix_binary: str = "nix"
    nix_extra_options: tuple[str, ...] = ()
    # None: detect a single-user install (root without the group) and pass "" for it.
    nix_build_users_group: str | None = None
    # None: the server's working directory (unless it is $HOME or above it) and /etc/nixos.
    nix_allowed_roots: tuple[Path, ...] | None = None
    # "bwrap": evaluate and fetch inside a bubblewrap view of the roots, /nix and the system
    # (a flake's inputs cannot read other files); "off": Nix sees what this user can read.
    nix_isolation: Literal["bwrap", "off"] = "bwrap"
    nix_bwrap_binary: str = "bwrap"
    # More paths the isolated Nix sees, read-write (a --store directory, a registry file).
    nix_isolation_paths: tuple[Path, ...] = ()
    nix_timeout_s: float = Field(default=120.0, gt=0)
    nix_build_timeout_s: float = Field(default=3600.0, gt=0)
    nix_max_output_bytes: int = Field(default=1_000_000, ge=1024)
    cache_size: int = Field(default=256, ge=1)
    cache_ttl_s: float = Field(default=300.0, gt=0)
    # Stack tools (gateway / offload HTTP calls)
    http_timeout_s: float = Field(default=5.0, gt=0)
    http_rate_per_s: float = Field(default=20.0, gt=0)
    http_burst: int = Field(default=20, ge=1)
    breaker_failures: int = Field(default=3, ge=1)
    breaker_reset_s: float = Field(default=30.0, gt=0)
    nixaudit_path: Path | None = None
    # options.json files (NixOS optionsJSON, home-manager, nix-darwin): {source: path}.
    # Unset: the running NixOS system's own, where there is one.
    nix_options_files: dict[str, Path] | None = None
    # A package list (``nix-env -qaP --json``) for offline nix_search; unset: listed once
    # from the local nixpkgs (NIX_PATH, or the flake registry's local nixpkgs).
    nix_packages_file: Path | None = None
    # Streamable HTTP (--http): bearer token from a file or env var, else generated.
    http_token_file: Path | None = None
    http_token_env: str | None = None
    http_allowed_hosts: tuple[str, ...] = ()
    http_allowed_origins: tuple[str, ...] = ()

    @field_validator("tools", mode="before")
    @classmethod
    def _tools_from_text(cls, value: object) -> object:
        if isinstance(value, str):  # "knowledge,nix" from a flag or an environment variable
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple) and "all" in value:
            return TOOL_GROUPS
        if isinstance(value, list | tuple) and not value:
            raise ValueError("name at least one tool group: " + ", ".join(TOOL_GROUPS))
        return tuple(dict.fromkeys(value)) if isinstance(value, list | tuple) else value

    @field_validator("nix_allowed_roots")
    @classmethod
    def _roots_are_absolute(cls, roots: tuple[Path, ...] | None) -> tuple[Path, ...] | None:
        for root in roots or ():
            path = root.expanduser()
            if not path.is_absolute():
                raise ValueError(f"{root} is not an absolute path")
            if path.resolve() == Path("/"):
                raise ValueError("/ would let every file on the machine into the Nix store")
        return roots

    @field_validator("nix_isolation_paths")
    @classmethod
    def _isolation_paths_are_absolute(cls, paths: tuple[Path, ...]) -> tuple[Path, ...]:
        for path in paths:
            if not path.expanduser().is_absolute():
                raise ValueError(f"{path} is not an absolute path")
            if path.expanduser().resolve() == Path("/"):
                raise ValueError("/ would show every file on the machine to the isolated Nix")
        return paths

    @field_validator("http_allowed_hosts")
    @classmethod
    def _hosts_are_names(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for host in hosts:
            if not host or "/" in host or any(ch.isspace() for ch in host):
                raise ValueError(f"{host!r} is not a host name (write host or host:port)")
        return hosts

    @field_validator("http_allowed_origins")
    @classmethod
    def _origins_are_urls(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
        return origins


def default_flake_roots(cwd: Path, home: Path) -> tuple[Path, ...]:
    """The project the server was started in, and the NixOS configuration.

    A working directory that is the home directory or holds it (``/`` for a service,
    ``/home``) is left out: a flake ref there could copy the whole file system, or
    ``~/.ssh``, into the store.
    """
    roots = [NIXOS_CONFIG_DIR]
    if not home.resolve().is_relative_to(cwd.resolve()):
        roots.insert(0, cwd.resolve())
    return tuple(roots)


def configured_http_token(
    mcp: McpSettings, env: Mapping[str, str] | None = None
) -> SecretStr | None:
    """The ``--http`` bearer token from ``http_token_file`` or ``http_token_env``, if set.

    Raises :class:`~securellm.core.config.secrets.SecretSourceError` when one is named but
    cannot be read (the message names the source, never the value).
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    return resolve_secret(
        inline=None,
        env_name=mcp.http_token_env,
        file_path=mcp.http_token_file.expanduser() if mcp.http_token_file else None,
        env=environ,
        required=mcp.http_token_env is not None,
    )


def mcp_runtime(
    mcp: McpSettings,
    *,
    data_dir: Path,
    state_dir: Path,
    env: Mapping[str, str] | None = None,
) -> McpSettings:
    """Fill the paths the server needs from the environment and the runtime dirs.

    ``KNOWLEDGE_DB_PATH`` wins over the config file; as a service (``STATE_DIRECTORY`` set)
    the default database is the shared ``/var/lib/mcp-knowledge/knowledge.db``, run by a user
    it lives in the user's data dir. The JSON log goes to ``<state dir>/mcp.log``.
    ``DEBUG_TO_STDERR=true`` mirrors the log to stderr. Unset ``nix_allowed_roots`` become
    :func:`default_flake_roots` of the working directory.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    db_env = environ.get("KNOWLEDGE_DB_PATH")
    if db_env:
        db_path = Path(db_env).expanduser()
    elif mcp.knowledge_db_path is not None:
        db_path = mcp.knowledge_db_path
    elif environ.get("STATE_DIRECTORY"):
        db_path = SERVICE_KNOWLEDGE_DB
    else:
        db_path = data_dir / "knowledge.db"
    debug = mcp.debug_to_stderr or environ.get("DEBUG_TO_STDERR", "").lower() in _TRUE
    log_file = mcp.log_file or state_dir / "mcp.log"
    roots = mcp.nix_allowed_roots
    if roots is None:
        roots = default_flake_roots(Path.cwd(), Path(environ.get("HOME") or Path.home()))
    return mcp.model_copy(
        update={
            "knowledge_db_path": db_path,
            "debug_to_stderr": debug,
            "log_file": log_file,
            "nix_allowed_roots": roots,
        }
    )
