"""The audit's vocabulary: severities, findings and the report handed to callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class NixAuditError(Exception):
    """Base of the errors this package raises (bad arguments, never bad Nix)."""


class InvalidPathError(NixAuditError):
    """The path to audit does not exist or is not a directory."""


class UnknownRuleError(NixAuditError):
    """A rule id that no rule plug-in declares."""


class InvalidSeverityError(NixAuditError):
    """A severity name outside info, low, medium, high, critical."""


class InvalidConfigError(NixAuditError):
    """A ``.securellm-nix.toml`` or baseline file that cannot be read or is malformed."""


class Severity(StrEnum):
    """How much a finding matters; compares by rank, serialises as its name."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @classmethod
    def parse(cls, name: str) -> Severity:
        """The severity called ``name`` (case-insensitive), or InvalidSeverityError."""
        try:
            return cls(name.strip().lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise InvalidSeverityError(f"unknown severity {name!r}; use one of {choices}") from None


_RANKS = {s: i for i, s in enumerate(Severity)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place, with why it matters and how to fix it."""

    rule_id: str
    severity: Severity
    file: str
    line: int
    message: str
    explanation: str
    fix: str
    fingerprint: str = ""  # stable across line moves; set by the audit (see fingerprint.py)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "explanation": self.explanation,
            "fix": self.fix,
            "fingerprint": self.fingerprint,
        }


@dataclass(slots=True)
class AuditReport:
    """Findings of one audit run over one repository."""

    path: str
    files_scanned: int
    findings: list[Finding] = field(default_factory=list)
    skipped_rules: list[str] = field(default_factory=list)  # need the whole repo (file mode)
    suppressed: int = 0  # findings silenced by inline comments, the config or the baseline
    root: str = ""  # the directory file names are relative to (not in to_dict)

    @property
    def summary(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Severity}
        for finding in self.findings:
            counts[finding.severity.value] += 1
        return counts

    def at_or_above(self, threshold: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity.rank >= threshold.rank]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "files_scanned": self.files_scanned,
            "findings": [f.to_dict() for f in self.findings],
            "summary": self.summary,
            "skipped_rules": self.skipped_rules,
            "suppressed": self.suppressed,
        }
