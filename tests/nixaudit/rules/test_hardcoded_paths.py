"""hardcoded-etc-nixos."""

from __future__ import annotations

from collections.abc import Callable

from securellm.nixaudit import AuditReport

AuditFiles = Callable[..., AuditReport]


def test_seed_path_and_string_literals_are_reported(seed_report: AuditReport) -> None:
    found = [
        (f.line, f.severity.value)
        for f in seed_report.findings
        if f.rule_id == "hardcoded-etc-nixos"
    ]
    assert found == [(28, "medium"), (29, "low")]


def test_clean_repository_uses_relative_paths(clean_report: AuditReport) -> None:
    assert not [f for f in clean_report.findings if f.rule_id == "hardcoded-etc-nixos"]


def test_comments_mentioning_etc_nixos_are_ignored(audit_files: AuditFiles) -> None:
    text = "# checked out in /etc/nixos\n{ a = 1; }\n"
    assert audit_files({"a.nix": text}, ["hardcoded-etc-nixos"]).findings == []


def test_an_option_example_naming_etc_nixos_is_documentation(audit_files: AuditFiles) -> None:
    text = (
        "{ lib, ... }: {\n"
        "  options.x = lib.mkOption {\n"
        '    example = "/etc/nixos/restic-excludes";\n'
        '    description = "a file such as /etc/nixos/x";\n'
        '    defaultText = lib.literalExpression "/etc/nixos/y";\n'
        "  };\n"
        "}\n"
    )
    assert audit_files({"a.nix": text}, ["hardcoded-etc-nixos"]).findings == []


def test_a_setting_beside_an_example_is_still_reported(audit_files: AuditFiles) -> None:
    text = (
        "{ lib, ... }: {\n"
        '  options.x = lib.mkOption { example = "/etc/nixos/a"; };\n'
        '  config.y = "/etc/nixos/b";\n'
        "}\n"
    )
    found = audit_files({"a.nix": text}, ["hardcoded-etc-nixos"]).findings
    assert [f.line for f in found] == [3]
