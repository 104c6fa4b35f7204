"""``[mcp]``: the MCP server for IDE agents.

The three environment variables the seeds' server honoured (``KNOWLEDGE_DB_PATH``,
``DEBUG_TO_STDERR``, ``STATE_DIRECTORY``) are read here, by :func:`mcp_runtime`, and
nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from securellm.core.config.sections import Section

SERVICE_KNOWLEDGE_DB = Path("/var/lib/mcp-knowledge/knowledge.db")
_TRUE = {"1", "true", "yes", "on"}


class McpSettings(Section):
    """Knowledge base location, logging, Nix limits and the HTTP APIs the stack tools use."""

    knowledge_db_path: Path | None = None
    knowledge_busy_timeout_ms: int = Field(default=5000, ge=0, le=600_000)
    log_file: Path | None = None
    debug_to_stderr: bool = False
    gateway_url: str = "http://127.0.0.1:8100"
    offload_url: str = "http://127.0.0.1:9000"
    # Nix tools
    nix_binary: str = "nix"
    nix_extra_options: tuple[str, ...] = ()
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
    ``DEBUG_TO_STDERR=true`` mirrors the log to stderr.
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
    return mcp.model_copy(
        update={"knowledge_db_path": db_path, "debug_to_stderr": debug, "log_file": log_file}
    )
