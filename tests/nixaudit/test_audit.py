"""audit_repository: the whole run, filters, errors, and the seed's problems end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from securellm.nixaudit import (
    AuditReport,
    Finding,
    InvalidPathError,
    InvalidSeverityError,
    Severity,
    UnknownRuleError,
    audit_repository,
)
from securellm.nixaudit import audit as audit_module
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule


def test_clean_twin_produces_no_finding(clean_report: AuditReport) -> None:
    assert clean_report.findings == []


def test_seed_repository_shows_every_seed_problem(seed_report: AuditReport) -> None:
    expected = {
        "duplicate-setting",
        "nix-settings-scattered",
        "clamav-updater-frequency",
        "clamav-multiple-definitions",
        "ssh-2fa-kbd-interactive",
        "ssh-password-auth",
        "ssh-root-login",
        "missing-default-nix",
        "module-too-large",
        "missing-import",
        "hardcoded-etc-nixos",
        "repo-build-artifact",
        "repo-database",
        "repo-secret",
        "gitignore-gap",
        "gpu-no-build-mode",
        "parse-error",
    }
    assert {f.rule_id for f in seed_report.findings} == expected


def test_findings_are_sorted_most_severe_first(seed_report: AuditReport) -> None:
    ranks = [f.severity.rank for f in seed_report.findings]
    assert ranks == sorted(ranks, reverse=True)


def test_files_scanned_counts_nix_files(seed_report: AuditReport) -> None:
    assert seed_report.files_scanned == 22


def test_rules_argument_runs_only_those_rules(seed_repo: Path) -> None:
    report = audit_repository(seed_repo, rules=["ssh-root-login"])
    assert {f.rule_id for f in report.findings} == {"ssh-root-login"}


def test_min_severity_hides_lower_findings(seed_repo: Path) -> None:
    report = audit_repository(seed_repo, min_severity="high")
    assert {f.severity for f in report.findings} <= {Severity.HIGH, Severity.CRITICAL}


def test_unknown_rule_is_an_error(seed_repo: Path) -> None:
    with pytest.raises(UnknownRuleError, match="no-such-rule"):
        audit_repository(seed_repo, rules=["no-such-rule"])


def test_unknown_severity_is_an_error(seed_repo: Path) -> None:
    with pytest.raises(InvalidSeverityError):
        audit_repository(seed_repo, min_severity="urgent")


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidPathError):
        audit_repository(tmp_path / "nope")


def test_a_file_is_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "a.nix").write_text("{ }")
    with pytest.raises(InvalidPathError):
        audit_repository(tmp_path / "a.nix")


def test_empty_directory_has_only_the_gitignore_finding(tmp_path: Path) -> None:
    assert [f.rule_id for f in audit_repository(tmp_path).findings] == ["gitignore-gap"]


class _Crashing(Rule):
    id = "crashing"
    severity = Severity.HIGH
    title = "always crashes"
    explanation = "test"
    fix = "test"

    def check(self, repo: Repository) -> Iterator[Finding]:
        raise RuntimeError("boom")


def test_a_crashing_rule_becomes_a_finding(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(audit_module, "all_rules", lambda: {"crashing": _Crashing()})
    report = audit_repository(tmp_path)
    assert [f.rule_id for f in report.findings] == ["rule-error"]


def test_to_dict_has_the_documented_shape(seed_report: AuditReport) -> None:
    data = seed_report.to_dict()
    assert set(data) == {
        "path",
        "files_scanned",
        "findings",
        "summary",
        "skipped_rules",
        "suppressed",
    }
    assert set(data["findings"][0]) == {
        "rule_id",
        "severity",
        "file",
        "line",
        "message",
        "explanation",
        "fix",
        "fingerprint",
    }
    assert sum(data["summary"].values()) == len(data["findings"])
