"""``security_audit`` and ``nix_blueprint``: the NixOS auditor plus the securellm config audit.

``securellm.nixaudit`` is imported lazily, inside a worker thread, so a build without it
still serves every other tool and these two say clearly what is missing.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from securellm.mcp.config_audit import (
    SEVERITY_ORDER,
    ConfigFinding,
    static_findings,
    unlimited_key_findings,
)
from securellm.mcp.errors import AuditorUnavailableError, InvalidInputError, UpstreamError
from securellm.mcp.state import ServerState

GROUP = "security"  # the tool group these tools belong to (``[mcp] tools``)

Severity = Literal["info", "low", "medium", "high", "critical"]
RepoPath = Annotated[
    str, Field(min_length=1, max_length=4096, description="a NixOS config repository")
]


class SecurityAuditResult(BaseModel):
    """Config findings, NixOS repository findings (when a path was audited) and what was skipped."""

    config_findings: list[ConfigFinding]
    nix_report: dict[str, Any] | None = None
    skipped: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict, description="findings per severity")


class BlueprintResult(BaseModel):
    path: str
    blueprint: str


def repo_dir(value: str) -> Path:
    """An existing directory; NUL bytes and control characters refused."""
    if any(ord(ch) < 0x20 for ch in value):
        raise InvalidInputError("path contains control characters")
    path = Path(value).expanduser()
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidInputError(f"{value} does not exist") from None
    if not resolved.is_dir():
        raise InvalidInputError(f"{value} is not a directory")
    return resolved


def _nixaudit() -> Any:
    try:
        return importlib.import_module("securellm.nixaudit")
    except ImportError as exc:
        raise AuditorUnavailableError(
            f"the NixOS auditor (securellm.nixaudit) is not available in this build: {exc}"
        ) from None


def _audit_repo(path: Path, min_severity: str) -> dict[str, Any]:
    module = _nixaudit()
    audit = getattr(module, "audit_repository", None)
    if audit is None:
        raise AuditorUnavailableError("securellm.nixaudit has no audit_repository()")
    with _auditor_errors(module):
        report = audit(path, min_severity=min_severity)
    data: dict[str, Any] = report.to_dict()
    return data


def _blueprint(path: Path, existing: str | None) -> str:
    module = _nixaudit()
    generate = getattr(module, "generate_blueprint", None)
    if generate is None:
        raise AuditorUnavailableError("securellm.nixaudit has no generate_blueprint()")
    with _auditor_errors(module):
        return str(generate(path, existing=existing))


@contextmanager
def _auditor_errors(module: Any) -> Iterator[None]:
    """The auditor's own errors (bad path, unknown severity) become tool errors."""
    error_type = getattr(module, "NixAuditError", None)
    try:
        yield
    except Exception as exc:
        if isinstance(error_type, type) and isinstance(exc, error_type):
            raise InvalidInputError(str(exc)) from None
        raise


def _counts(findings: list[ConfigFinding], report: dict[str, Any] | None) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    severities = [f.severity for f in findings]
    for finding in (report or {}).get("findings", []) or []:
        if isinstance(finding, dict) and finding.get("severity") in counts:
            severities.append(finding["severity"])
    for severity in severities:
        counts[severity] += 1
    return counts


class SecurityTools:
    """``security_audit`` and ``nix_blueprint``."""

    def __init__(self, state: ServerState) -> None:
        self._state = state

    async def _key_findings(self, skipped: list[str]) -> list[ConfigFinding]:
        """Gateway keys without limits; a note in ``skipped`` when the gateway cannot say."""
        stack = self._state.stack
        if not stack.has_master_key:
            skipped.append("gateway key limits: no master key configured")
            return []
        try:
            body = await stack.get_json("gateway", "/admin/keys", admin=True)
        except UpstreamError as exc:
            skipped.append(f"gateway key limits: {exc}")
            return []
        keys = body.get("data") if isinstance(body, dict) else None
        return unlimited_key_findings(k for k in keys or [] if isinstance(k, dict))

    async def security_audit(
        self, path: RepoPath | None = None, min_severity: Severity = "info"
    ) -> SecurityAuditResult:
        """Audit the securellm config (secrets, plain HTTP, unlimited keys) and a NixOS repo."""
        skipped: list[str] = []
        findings = static_findings(self._state.settings) + await self._key_findings(skipped)
        floor = SEVERITY_ORDER[min_severity]
        findings = [f for f in findings if SEVERITY_ORDER[f.severity] >= floor]
        report = None
        default = self._state.mcp.nixaudit_path
        target = path or (str(default) if default else None)
        if target is not None:
            report = await anyio.to_thread.run_sync(_audit_repo, repo_dir(target), min_severity)
        else:
            skipped.append("NixOS repository: no path given")
        return SecurityAuditResult(
            config_findings=findings,
            nix_report=report,
            skipped=skipped,
            counts=_counts(findings, report),
        )

    async def nix_blueprint(
        self,
        path: RepoPath,
        existing: Annotated[str | None, Field(max_length=1_000_000)] = None,
    ) -> BlueprintResult:
        """An architecture blueprint (Markdown) of a NixOS repository, updating ``existing``."""
        directory = repo_dir(path)
        text = await anyio.to_thread.run_sync(_blueprint, directory, existing)
        return BlueprintResult(path=str(directory), blueprint=text)


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add the security tools to ``server``."""
    tools = SecurityTools(state)
    server.add_tool(
        tools.security_audit,
        title="Security audit",
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        ),
    )
    server.add_tool(
        tools.nix_blueprint,
        title="NixOS architecture blueprint",
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
    )
