"""Auditor and architecture blueprint for NixOS configuration repositories."""

from __future__ import annotations

from securellm.nixaudit.audit import audit_repository
from securellm.nixaudit.blueprint import generate_blueprint
from securellm.nixaudit.model import (
    AuditReport,
    Finding,
    InvalidPathError,
    InvalidSeverityError,
    NixAuditError,
    Severity,
    UnknownRuleError,
)
from securellm.nixaudit.rules import all_rules

__all__ = [
    "AuditReport",
    "Finding",
    "InvalidPathError",
    "InvalidSeverityError",
    "NixAuditError",
    "Severity",
    "UnknownRuleError",
    "all_rules",
    "audit_repository",
    "generate_blueprint",
]
