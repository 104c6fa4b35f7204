"""The base every rule plug-in extends; a rule reads a Repository and yields findings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.nixfile import Assignment, shown_value
from securellm.nixaudit.repo import Repository


class Rule:
    """One check. Subclasses set the class attributes and implement :meth:`check`."""

    id: ClassVar[str]
    severity: ClassVar[Severity]
    title: ClassVar[str]
    explanation: ClassVar[str]
    fix: ClassVar[str]
    whole_repo: ClassVar[bool] = True
    """False for rules that judge each file alone, so they also run on single files."""

    def check(self, repo: Repository) -> Iterator[Finding]:
        raise NotImplementedError

    def finding(
        self,
        file: str,
        line: int,
        message: str,
        *,
        severity: Severity | None = None,
        explanation: str | None = None,
        fix: str | None = None,
    ) -> Finding:
        return Finding(
            rule_id=self.id,
            severity=severity or self.severity,
            file=file,
            line=max(line, 1),
            message=message,
            explanation=explanation or self.explanation,
            fix=fix or self.fix,
        )


def priority_name(priority: int) -> str:
    names = {50: "mkForce", 100: "plain", 1000: "mkDefault", 1500: "mkOptionDefault"}
    return names.get(priority, f"mkOverride {priority}")


def where(assignment: Assignment) -> str:
    """``file:line = value (priority)`` for messages."""
    value = shown_value(assignment.dotted, assignment.value)
    return (
        f"{assignment.file}:{assignment.line} = {value} "
        f"({priority_name(assignment.priority)}{', under mkIf' if assignment.conditional else ''})"
    )


def is_true(assignment: Assignment | None) -> bool:
    return assignment is not None and assignment.value == "true"


def files_of(assignments: list[Assignment]) -> list[str]:
    return sorted({a.file for a in assignments})


MAX_LISTED = 6


def listing(assignments: list[Assignment]) -> str:
    """``where()`` of each definition, file order, the first few only for long lists."""
    ordered = sorted(assignments, key=lambda a: (a.file, a.line))
    shown = "; ".join(where(a) for a in ordered[:MAX_LISTED])
    hidden = len(ordered) - MAX_LISTED
    return shown + (f"; and {hidden} more" if hidden > 0 else "")
