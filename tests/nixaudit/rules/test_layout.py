"""missing-default-nix, module-too-large and missing-import."""

from __future__ import annotations

from collections.abc import Callable

from securellm.nixaudit import AuditReport

AuditFiles = Callable[..., AuditReport]

MODULE = "{ config, ... }: { }\n"


def _at(report: AuditReport, rule_id: str) -> list[tuple[str, int]]:
    return [(f.file, f.line) for f in report.findings if f.rule_id == rule_id]


def test_seed_categories_without_default_nix_are_reported(seed_report: AuditReport) -> None:
    dirs = sorted(
        f.message.split("/ ")[0] for f in seed_report.findings if f.rule_id == "missing-default-nix"
    )
    assert dirs == ["modules/development", "modules/services", "modules/system"]


def test_host_directory_whose_configuration_imports_the_rest_is_fine(
    seed_report: AuditReport,
) -> None:
    assert not [f for f in seed_report.findings if "hosts/kernelcore/ holds" in f.message]


def test_seed_oversized_module_is_reported(seed_report: AuditReport) -> None:
    assert _at(seed_report, "module-too-large") == [("modules/shell/training-logger.nix", 1)]


def test_seed_import_of_a_moved_module_is_reported(seed_report: AuditReport) -> None:
    assert _at(seed_report, "missing-import") == [("hosts/kernelcore/configuration.nix", 19)]


def test_clean_layout_is_quiet(clean_report: AuditReport) -> None:
    rules = {"missing-default-nix", "module-too-large", "missing-import"}
    assert not [f for f in clean_report.findings if f.rule_id in rules]


def test_single_module_directory_needs_no_default_nix(audit_files: AuditFiles) -> None:
    report = audit_files({"m/a.nix": MODULE, "m/README.md": "x"}, ["missing-default-nix"])
    assert report.findings == []


def test_non_module_files_do_not_count(audit_files: AuditFiles) -> None:
    pkg = "{ stdenv }: stdenv.mkDerivation { }\n"
    report = audit_files({"pkgs/a.nix": pkg, "pkgs/b.nix": pkg}, ["missing-default-nix"])
    assert report.findings == []


def test_import_of_a_directory_needs_its_default_nix(audit_files: AuditFiles) -> None:
    report = audit_files(
        {"a.nix": "{ imports = [ ./sub ]; }", "sub/x.nix": MODULE}, ["missing-import"]
    )
    assert [f.message for f in report.findings] == ["import sub/default.nix does not exist"]


def test_existing_imports_are_quiet(audit_files: AuditFiles) -> None:
    report = audit_files(
        {"a.nix": "{ imports = [ ./b.nix ]; }", "b.nix": MODULE}, ["missing-import"]
    )
    assert report.findings == []


def test_module_at_the_limit_is_fine(audit_files: AuditFiles) -> None:
    text = "{\n" + "  a = 1;\n" * 398 + "}\n"
    assert audit_files({"a.nix": text}, ["module-too-large"]).findings == []


def test_missing_import_in_a_flake_template_is_low(audit_files: AuditFiles) -> None:
    report = audit_files(
        {"templates/nixos/flake.nix": "{ outputs = i: { modules = [ ./configuration.nix ]; }; }"},
        ["missing-import"],
    )
    assert [f.severity.value for f in report.findings] == ["low"]


def test_a_directory_a_function_scans_needs_no_default_nix(audit_files: AuditFiles) -> None:
    report = audit_files(
        {
            "default.nix": "imports = mapModulesRec' ./modules import;",
            "modules/a.nix": "x = 1;",
            "modules/b.nix": "y = 1;",
        },
        ["missing-default-nix"],
    )
    assert report.findings == []


def test_a_directory_only_named_by_file_imports_still_needs_one(audit_files: AuditFiles) -> None:
    report = audit_files(
        {
            "hosts/a/configuration.nix": "imports = [ ../../profiles/x.nix ../../profiles/y.nix ];",
            "profiles/x.nix": "x = 1;",
            "profiles/y.nix": "y = 1;",
            "profiles/notes.txt": "not nix",
        },
        ["missing-default-nix"],
    )
    assert [f.message for f in report.findings] == ["profiles/ holds 2 modules and no default.nix"]


def test_an_agenix_rules_file_is_not_counted_as_a_module(audit_files: AuditFiles) -> None:
    report = audit_files(
        {
            "secrets/secrets.nix": '{ "wifi.age".publicKeys = [ "age1x" ]; }',
            "secrets/identities.nix": "x = 1;",
        },
        ["missing-default-nix"],
    )
    assert report.findings == []
