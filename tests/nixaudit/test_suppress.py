"""Inline ignores and .securellm-nix.toml silence exactly what they name."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from securellm.nixaudit import AuditReport
from securellm.nixaudit.model import InvalidConfigError

AuditFiles = Callable[..., AuditReport]
RULES = ["hardcoded-etc-nixos", "parse-error"]
TWO_PATHS = "{\n  a = /etc/nixos/a.nix;\n  b = /etc/nixos/b.nix;\n}\n"


def found(report: AuditReport) -> list[tuple[str, str, int]]:
    return sorted((f.rule_id, f.file, f.line) for f in report.findings)


def test_inline_ignore_on_the_line_silences_that_line(audit_files: AuditFiles) -> None:
    source = TWO_PATHS.replace("a.nix;", "a.nix; # securellm-nix: ignore hardcoded-etc-nixos")
    report = audit_files({"m.nix": source}, rules=RULES)
    assert found(report) == [("hardcoded-etc-nixos", "m.nix", 3)]


def test_inline_ignore_on_the_line_above_silences_the_next_line(audit_files: AuditFiles) -> None:
    source = TWO_PATHS.replace("  b =", "  # securellm-nix: ignore hardcoded-etc-nixos\n  b =")
    report = audit_files({"m.nix": source}, rules=RULES)
    assert found(report) == [("hardcoded-etc-nixos", "m.nix", 2)]


def test_inline_ignore_of_another_rule_silences_nothing(audit_files: AuditFiles) -> None:
    source = TWO_PATHS.replace("a.nix;", "a.nix; # securellm-nix: ignore duplicate-setting")
    report = audit_files({"m.nix": source}, rules=RULES)
    assert len(report.findings) == 2


def test_inline_ignore_takes_a_comma_list(audit_files: AuditFiles) -> None:
    source = TWO_PATHS.replace(
        "a.nix;", "a.nix; # securellm-nix: ignore duplicate-setting,hardcoded-etc-nixos"
    )
    report = audit_files({"m.nix": source}, rules=RULES)
    assert found(report) == [("hardcoded-etc-nixos", "m.nix", 3)]


def test_silenced_findings_are_counted(audit_files: AuditFiles) -> None:
    source = TWO_PATHS.replace("a.nix;", "a.nix; # securellm-nix: ignore hardcoded-etc-nixos")
    assert audit_files({"m.nix": source}, rules=RULES).suppressed == 1


def test_config_disable_drops_that_rule_only(audit_files: AuditFiles) -> None:
    files = {
        "m.nix": TWO_PATHS,
        "bad.nix": "{ a = 1 }\n",
        ".securellm-nix.toml": 'disable = ["hardcoded-etc-nixos"]\n',
    }
    assert found(audit_files(files, rules=RULES)) == [("parse-error", "bad.nix", 1)]


def test_config_path_ignore_drops_matching_files_only(audit_files: AuditFiles) -> None:
    files = {
        "vendor/x/m.nix": TWO_PATHS,
        "m.nix": TWO_PATHS,
        ".securellm-nix.toml": '[[ignore]]\npaths = ["vendor/**"]\n',
    }
    assert {f.file for f in audit_files(files, rules=RULES).findings} == {"m.nix"}


def test_config_path_ignore_with_rules_keeps_other_rules(audit_files: AuditFiles) -> None:
    files = {
        "old/m.nix": TWO_PATHS,
        "old/bad.nix": "{ a = 1 }\n",
        ".securellm-nix.toml": (
            '[[ignore]]\npaths = ["old/*.nix"]\nrules = ["hardcoded-etc-nixos"]\n'
        ),
    }
    assert found(audit_files(files, rules=RULES)) == [("parse-error", "old/bad.nix", 1)]


def test_config_severity_override_changes_that_rule_only(audit_files: AuditFiles) -> None:
    files = {
        "m.nix": TWO_PATHS,
        "bad.nix": "{ a = 1 }\n",
        ".securellm-nix.toml": '[severity]\nhardcoded-etc-nixos = "info"\n',
    }
    severities = {(f.rule_id, f.severity.value) for f in audit_files(files, rules=RULES).findings}
    assert severities == {("hardcoded-etc-nixos", "info"), ("parse-error", "high")}


@pytest.mark.parametrize(
    "text",
    [
        'disable = ["no-such-rule"]\n',
        "disable = [\n",
        'disabled = ["hardcoded-etc-nixos"]\n',
        '[severity]\nhardcoded-etc-nixos = "urgent"\n',
        '[[ignore]]\nrules = ["hardcoded-etc-nixos"]\n',
    ],
    ids=["unknown-rule", "bad-toml", "unknown-key", "bad-severity", "ignore-without-paths"],
)
def test_malformed_config_is_an_error_not_a_silent_pass(audit_files: AuditFiles, text: str) -> None:
    with pytest.raises(InvalidConfigError):
        audit_files({"m.nix": TWO_PATHS, ".securellm-nix.toml": text}, rules=RULES)


def test_inline_ignore_may_give_a_reason_after_the_ids(audit_files: AuditFiles) -> None:
    source = TWO_PATHS.replace(
        "a.nix;", "a.nix; # securellm-nix: ignore hardcoded-etc-nixos this host is special"
    )
    report = audit_files({"m.nix": source}, rules=RULES)
    assert found(report) == [("hardcoded-etc-nixos", "m.nix", 3)]
