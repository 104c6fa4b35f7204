"""clamav-updater-frequency and clamav-multiple-definitions."""

from __future__ import annotations

from collections.abc import Callable

from securellm.nixaudit import AuditReport

AuditFiles = Callable[..., AuditReport]


def _at(report: AuditReport, rule_id: str) -> list[tuple[str, int]]:
    return [(f.file, f.line) for f in report.findings if f.rule_id == rule_id]


def test_seed_hourly_with_frequency_24_is_reported_in_both_files(seed_report: AuditReport) -> None:
    assert _at(seed_report, "clamav-updater-frequency") == [
        ("modules/security/clamav.nix", 9),
        ("sec/hardening.nix", 22),
    ]


def test_seed_clamav_in_two_modules_is_reported(seed_report: AuditReport) -> None:
    assert _at(seed_report, "clamav-multiple-definitions") == [("sec/hardening.nix", 19)]


def test_clean_daily_updates_are_quiet(clean_report: AuditReport) -> None:
    assert not [f for f in clean_report.findings if f.rule_id.startswith("clamav")]


def test_frequency_with_default_hourly_interval_is_reported(audit_files: AuditFiles) -> None:
    report = audit_files(
        {"a.nix": "services.clamav.updater.frequency = 12;"}, ["clamav-updater-frequency"]
    )
    assert "(the default)" in report.findings[0].message


def test_daily_interval_with_several_checks_is_quiet(audit_files: AuditFiles) -> None:
    body = 'services.clamav.updater = { interval = "daily"; frequency = 2; };'
    assert audit_files({"a.nix": body}, ["clamav-updater-frequency"]).findings == []


def test_clamav_in_one_module_is_quiet(audit_files: AuditFiles) -> None:
    report = audit_files(
        {"a.nix": "services.clamav.daemon.enable = true;", "b.nix": "services.aide.enable = true;"},
        ["clamav-multiple-definitions"],
    )
    assert report.findings == []
