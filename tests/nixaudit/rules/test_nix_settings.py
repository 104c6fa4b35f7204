"""nix-settings-scattered."""

from __future__ import annotations

from collections.abc import Callable

from securellm.nixaudit import AuditReport

AuditFiles = Callable[..., AuditReport]

RULE = ["nix-settings-scattered"]


def _keys(report: AuditReport, rule: str) -> set[str]:
    return {f.message.split()[0] for f in report.findings if f.rule_id == rule}


def test_seed_reports_each_scattered_key_that_does_not_conflict(seed_report: AuditReport) -> None:
    assert _keys(seed_report, "nix-settings-scattered") == {
        "nix.settings.trusted-users",
        "nix.settings.auto-optimise-store",
    }


def test_seed_conflicting_keys_are_reported_once_by_duplicate_setting(
    seed_report: AuditReport,
) -> None:
    conflicting = {
        "nix.settings.max-jobs",
        "nix.settings.cores",
        "nix.settings.connect-timeout",
        "nix.settings.stalled-download-timeout",
    }
    assert conflicting <= _keys(seed_report, "duplicate-setting")
    assert not conflicting & _keys(seed_report, "nix-settings-scattered")


def test_seed_max_jobs_lists_all_three_modules(seed_report: AuditReport) -> None:
    finding = next(
        f
        for f in seed_report.findings
        if f.rule_id == "duplicate-setting" and f.message.startswith("nix.settings.max-jobs")
    )
    assert finding.message.count("modules/") == 3


def test_clean_repository_keeps_settings_in_one_module(clean_report: AuditReport) -> None:
    assert not [f for f in clean_report.findings if f.rule_id == "nix-settings-scattered"]


def test_identical_values_in_two_modules_are_low(audit_files: AuditFiles) -> None:
    report = audit_files(
        {"a.nix": "nix.settings.sandbox = true;", "b.nix": "nix.settings.sandbox = true;"}, RULE
    )
    assert [f.severity.value for f in report.findings] == ["low"]


def test_one_owner_with_mkdefault_fallbacks_is_quiet(audit_files: AuditFiles) -> None:
    report = audit_files(
        {"a.nix": "nix.settings.cores = lib.mkDefault 0;", "b.nix": "nix.settings.cores = 4;"}, RULE
    )
    assert report.findings == []
