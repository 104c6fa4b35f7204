"""parse-error."""

from __future__ import annotations

from collections.abc import Callable

from securellm.nixaudit import AuditReport

AuditFiles = Callable[..., AuditReport]


def test_seed_broken_module_is_reported(seed_report: AuditReport) -> None:
    found = [(f.file, f.line) for f in seed_report.findings if f.rule_id == "parse-error"]
    assert found == [("modules/debug/broken.nix", 5)]


def test_clean_repository_has_no_parse_error(clean_report: AuditReport) -> None:
    assert not [f for f in clean_report.findings if f.rule_id == "parse-error"]


def test_garbage_file_is_a_finding_not_a_crash(audit_files: AuditFiles) -> None:
    report = audit_files({"a.nix": "{ \x00 = = ; ''"}, rules=["parse-error"])
    assert [f.severity.value for f in report.findings] == ["high"]


def test_message_does_not_echo_the_broken_source(audit_files: AuditFiles) -> None:
    report = audit_files({"a.nix": '{ password = "hunter2" ; ; }'}, rules=["parse-error"])
    assert "hunter2" not in report.findings[0].message
