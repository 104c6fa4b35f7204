"""duplicate-setting."""

from __future__ import annotations

from collections.abc import Callable

from securellm.nixaudit import AuditReport

AuditFiles = Callable[..., AuditReport]

RULE = ["duplicate-setting"]


def _messages(report: AuditReport) -> list[str]:
    return [f.message for f in report.findings]


def test_seed_conflicting_nix_settings_are_high(seed_report: AuditReport) -> None:
    found = {
        f.message.split()[0]: f.severity.value
        for f in seed_report.findings
        if f.rule_id == "duplicate-setting"
    }
    assert found["nix.settings.max-jobs"] == "high"
    assert found["nix.settings.connect-timeout"] == "high"


def test_seed_reports_which_file_wins_by_priority(seed_report: AuditReport) -> None:
    root = next(
        f
        for f in seed_report.findings
        if f.rule_id == "duplicate-setting" and "PermitRootLogin" in f.message
    )
    assert "modules/services/offload-server.nix:6 wins by priority (mkForce)" in root.message


def test_clean_repository_has_no_duplicate(clean_report: AuditReport) -> None:
    assert not [f for f in clean_report.findings if f.rule_id == "duplicate-setting"]


def test_same_value_in_two_files_is_not_a_conflict(audit_files: AuditFiles) -> None:
    report = audit_files({"a.nix": "x.enable = true;", "b.nix": "x.enable = true;"}, RULE)
    assert report.findings == []


def test_lists_in_two_files_merge_and_are_not_reported(audit_files: AuditFiles) -> None:
    report = audit_files({"a.nix": "x = [ 1 ];", "b.nix": "x = [ 2 ];"}, RULE)
    assert report.findings == []


def test_mkdefault_base_overridden_elsewhere_is_quiet(audit_files: AuditFiles) -> None:
    report = audit_files({"a.nix": "x = lib.mkDefault 1;", "b.nix": "x = 2;"}, RULE)
    assert report.findings == []


def test_conflict_under_mkif_is_medium(audit_files: AuditFiles) -> None:
    report = audit_files({"a.nix": "config = lib.mkIf c { x = 1; };", "b.nix": "x = 2;"}, RULE)
    assert [f.severity.value for f in report.findings] == ["medium"]


def test_mkforce_over_plain_is_low_and_names_the_winner(audit_files: AuditFiles) -> None:
    report = audit_files({"a.nix": "x = 1;", "b.nix": "x = lib.mkForce 2;"}, RULE)
    assert [(f.severity.value, f.file) for f in report.findings] == [("low", "b.nix")]


def test_two_mkforce_with_different_values_conflict(audit_files: AuditFiles) -> None:
    report = audit_files({"a.nix": "x = lib.mkForce 1;", "b.nix": "x = lib.mkForce 2;"}, RULE)
    assert [f.severity.value for f in report.findings] == ["high"]


def test_different_hosts_may_set_different_values(audit_files: AuditFiles) -> None:
    report = audit_files(
        {
            "hosts/laptop/configuration.nix": 'networking.hostName = "laptop";',
            "hosts/desktop/configuration.nix": 'networking.hostName = "desktop";',
        },
        RULE,
    )
    assert report.findings == []


def test_shared_module_conflicting_with_two_hosts_is_reported_per_host(
    audit_files: AuditFiles,
) -> None:
    report = audit_files(
        {
            "modules/base.nix": "x = 1;",
            "hosts/laptop/configuration.nix": "imports = [ ../../modules/base.nix ]; x = 2;",
            "hosts/desktop/configuration.nix": "imports = [ ../../modules/base.nix ]; x = 3;",
        },
        RULE,
    )
    assert sorted(f.file for f in report.findings) == [
        "hosts/desktop/configuration.nix",
        "hosts/laptop/configuration.nix",
    ]


def test_files_that_are_not_modules_are_not_compared(audit_files: AuditFiles) -> None:
    flake = '{ description = "a"; outputs = _: { }; }\n'
    other = '{ description = "b"; inputs = { }; outputs = _: { }; }\n'
    assert audit_files({"flake.nix": flake, "sub/flake.nix": other}, RULE).findings == []


def test_values_of_credential_options_are_redacted(audit_files: AuditFiles) -> None:
    report = audit_files(
        {
            "a.nix": 'users.users.me.hashedPassword = "$6$first";',
            "b.nix": 'users.users.me.hashedPassword = "$6$second";',
        },
        RULE,
    )
    assert "$6$" not in report.findings[0].message
    assert "<redacted>" in report.findings[0].message


FLAKE_TWO_HOSTS = """{
  outputs = { nixpkgs, ... }: {
    nixosConfigurations.vm = nixpkgs.lib.nixosSystem { modules = [ ./hosts/vm ]; };
    darwinConfigurations.mac = darwin.lib.darwinSystem { modules = [ ./hosts/mac ]; };
  };
}
"""


def _two_hosts(vm_body: str, mac_body: str) -> dict[str, str]:
    return {
        "flake.nix": FLAKE_TWO_HOSTS,
        "hosts/vm/default.nix": "imports = [ ../../modules/vm.nix ../../modules/a.nix ];",
        "hosts/mac/default.nix": "imports = [ ../../modules/mac.nix ];",
        "modules/vm.nix": vm_body,
        "modules/mac.nix": mac_body,
        "modules/a.nix": "y = 1;",
    }


def test_two_hosts_importing_different_modules_may_differ(audit_files: AuditFiles) -> None:
    files = _two_hosts('time.timeZone = "UTC";', 'time.timeZone = "Europe/Paris";')
    assert audit_files(files, RULE).findings == []


def test_two_modules_of_one_host_that_differ_are_high(audit_files: AuditFiles) -> None:
    files = _two_hosts('time.timeZone = "UTC";', "")
    files["modules/a.nix"] = 'time.timeZone = "Europe/Paris";'
    report = audit_files(files, RULE)
    assert [(f.severity.value, f.file) for f in report.findings] == [("high", "modules/a.nix")]


def test_a_module_no_entry_point_imports_is_not_compared(audit_files: AuditFiles) -> None:
    files = _two_hosts("x = 1;", "")
    files["modules/unused.nix"] = "x = 2;"
    assert audit_files(files, RULE).findings == []


def test_extra_rules_in_two_modules_are_concatenated(audit_files: AuditFiles) -> None:
    report = audit_files(
        {
            "a.nix": 'services.udev.extraRules = "ACTION==\\"add\\", GROUP=\\"video\\"";',
            "b.nix": 'services.udev.extraRules = "SUBSYSTEM==\\"usb\\", MODE=\\"0660\\"";',
        },
        RULE,
    )
    assert report.findings == []


def test_lines_options_from_the_table_are_concatenated(audit_files: AuditFiles) -> None:
    report = audit_files(
        {"a.nix": 'networking.extraHosts = "10.0.0.1 a";', "b.nix": 'networking.extraHosts = "b";'},
        RULE,
    )
    assert report.findings == []


def test_unknown_option_ending_in_a_text_suffix_merges(audit_files: AuditFiles) -> None:
    report = audit_files(
        {
            "a.nix": 'services.foo.extraConfig = "a = 1";',
            "b.nix": 'services.foo.extraConfig = "b = 2";',
        },
        RULE,
    )
    assert report.findings == []


def test_unknown_string_option_that_differs_is_medium(audit_files: AuditFiles) -> None:
    report = audit_files(
        {"a.nix": 'services.foo.theme = "dark";', "b.nix": 'services.foo.theme = "x";'}, RULE
    )
    assert [f.severity.value for f in report.findings] == ["medium"]


def test_mkif_branches_with_different_conditions_do_not_conflict(
    audit_files: AuditFiles,
) -> None:
    report = audit_files(
        {
            "a.nix": "config = lib.mkIf config.profiles.server { x = 1; };",
            "b.nix": "config = lib.mkIf config.profiles.desktop { x = 2; };",
        },
        RULE,
    )
    assert report.findings == []


def test_mkif_on_the_same_global_condition_conflicts(audit_files: AuditFiles) -> None:
    report = audit_files(
        {
            "a.nix": "config = lib.mkIf config.profiles.server { x = 1; };",
            "b.nix": "config = lib.mkIf config.profiles.server { x = 2; };",
        },
        RULE,
    )
    assert [f.severity.value for f in report.findings] == ["medium"]


def test_mkif_on_a_module_local_cfg_is_not_the_same_condition(audit_files: AuditFiles) -> None:
    report = audit_files(
        {
            "a.nix": "config = lib.mkIf cfg.enable { x = 1; };",
            "b.nix": "config = lib.mkIf cfg.enable { x = 2; };",
        },
        RULE,
    )
    assert report.findings == []


def test_interpolated_attribute_names_are_module_local(audit_files: AuditFiles) -> None:
    report = audit_files(
        {
            "a.nix": 'services.nginx.virtualHosts.${domain}.root = "/srv/a";',
            "b.nix": 'services.nginx.virtualHosts.${domain}.root = "/srv/b";',
        },
        RULE,
    )
    assert report.findings == []
