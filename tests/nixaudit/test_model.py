"""Severity, Finding and AuditReport."""

from __future__ import annotations

import pytest

from securellm.nixaudit import AuditReport, Finding, InvalidSeverityError, Severity


def _finding(severity: Severity) -> Finding:
    return Finding("r", severity, "a.nix", 1, "m", "e", "f")


def test_severity_ranks_in_order() -> None:
    ranks = [
        s.rank
        for s in (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
    ]
    assert ranks == sorted(ranks)


def test_severity_parse_ignores_case() -> None:
    assert Severity.parse(" HIGH ") is Severity.HIGH


def test_severity_parse_rejects_unknown_names() -> None:
    with pytest.raises(InvalidSeverityError, match="critical"):
        Severity.parse("urgent")


def test_severity_compares_equal_to_its_name() -> None:
    assert Severity.MEDIUM == "medium"


def test_summary_counts_every_severity() -> None:
    report = AuditReport("p", 1, [_finding(Severity.HIGH), _finding(Severity.HIGH)])
    assert report.summary == {"info": 0, "low": 0, "medium": 0, "high": 2, "critical": 0}


def test_at_or_above_filters_by_threshold() -> None:
    report = AuditReport("p", 1, [_finding(Severity.LOW), _finding(Severity.CRITICAL)])
    assert [f.severity for f in report.at_or_above(Severity.HIGH)] == [Severity.CRITICAL]


def test_finding_to_dict_uses_plain_strings() -> None:
    assert _finding(Severity.LOW).to_dict()["severity"] == "low"
