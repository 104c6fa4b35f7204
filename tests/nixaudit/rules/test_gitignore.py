"""gitignore-gap."""

from __future__ import annotations

from collections.abc import Callable

from securellm.nixaudit import AuditReport

AuditFiles = Callable[..., AuditReport]


def test_seed_without_gitignore_is_reported(seed_report: AuditReport) -> None:
    assert [f.message for f in seed_report.findings if f.rule_id == "gitignore-gap"] == [
        "the repository has no .gitignore"
    ]


def test_clean_gitignore_is_quiet(clean_report: AuditReport) -> None:
    assert not [f for f in clean_report.findings if f.rule_id == "gitignore-gap"]


def test_gitignore_without_result_is_reported(audit_files: AuditFiles) -> None:
    report = audit_files({".gitignore": "target/\n"}, ["gitignore-gap"])
    assert report.findings[0].message == ".gitignore does not ignore result"


def test_result_glob_covers_result_links(audit_files: AuditFiles) -> None:
    assert audit_files({".gitignore": "result*\n"}, ["gitignore-gap"]).findings == []
