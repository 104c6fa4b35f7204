"""Text and SARIF renderings of a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from securellm.nixaudit import AuditReport, all_rules, audit_repository
from securellm.nixaudit.formats import to_sarif, to_text


def test_text_lists_file_line_severity_rule_and_fix(seed_report: AuditReport) -> None:
    text = to_text(seed_report, all_rules())
    assert "sec/hardening.nix:10: high [ssh-2fa-kbd-interactive]" in text
    assert "    fix: Set `services.openssh.settings.KbdInteractiveAuthentication = true;`" in text


def test_text_explains_each_rule_once(seed_report: AuditReport) -> None:
    text = to_text(seed_report, all_rules())
    assert text.count("  duplicate-setting (") == 1


def test_text_for_a_clean_report_says_so(clean_report: AuditReport) -> None:
    assert to_text(clean_report, all_rules()) == "17 Nix files scanned: no findings\n"


def test_sarif_is_version_2_1_0_with_one_run(seed_report: AuditReport) -> None:
    log = to_sarif(seed_report, all_rules())
    assert (log["version"], len(log["runs"])) == ("2.1.0", 1)


def test_sarif_results_point_at_file_and_line(seed_report: AuditReport) -> None:
    results = to_sarif(seed_report, all_rules())["runs"][0]["results"]
    location = results[0]["locations"][0]["physicalLocation"]
    first = seed_report.findings[0]
    assert (location["artifactLocation"]["uri"], location["region"]["startLine"]) == (
        first.file,
        first.line,
    )


def test_sarif_rule_index_matches_the_rule_descriptor(seed_report: AuditReport) -> None:
    run = to_sarif(seed_report, all_rules())["runs"][0]
    assert all(
        run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"] for r in run["results"]
    )


def test_sarif_levels_follow_severity(seed_report: AuditReport) -> None:
    results = to_sarif(seed_report, all_rules())["runs"][0]["results"]
    levels = {(r["properties"]["severity"], r["level"]) for r in results}
    assert levels <= {
        ("critical", "error"),
        ("high", "error"),
        ("medium", "warning"),
        ("low", "note"),
        ("info", "note"),
    }


def _sarif_of(root: Path, rules: list[str]) -> dict[str, Any]:
    return to_sarif(audit_repository(root, rules=rules), all_rules())


def test_sarif_driver_has_an_information_uri(seed_report: AuditReport) -> None:
    driver = to_sarif(seed_report, all_rules())["runs"][0]["tool"]["driver"]
    assert driver["informationUri"].startswith("https://")


def test_sarif_every_rule_has_help_text_and_a_help_uri(seed_report: AuditReport) -> None:
    for rule in to_sarif(seed_report, all_rules())["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["help"]["text"] and rule["helpUri"].startswith("https://"), rule["id"]


def test_sarif_partial_fingerprints_survive_a_line_move(tmp_path: Path) -> None:
    (tmp_path / "m.nix").write_text("{\n  a = /etc/nixos/a.nix;\n}\n")
    before = _sarif_of(tmp_path, ["hardcoded-etc-nixos"])["runs"][0]["results"][0]
    (tmp_path / "m.nix").write_text("# moved down\n{\n  a = /etc/nixos/a.nix;\n}\n")
    after = _sarif_of(tmp_path, ["hardcoded-etc-nixos"])["runs"][0]["results"][0]
    assert before["partialFingerprints"] == after["partialFingerprints"]
    assert after["locations"][0]["physicalLocation"]["region"]["startLine"] == 3


def test_sarif_directory_finding_points_at_a_file_a_viewer_can_open(tmp_path: Path) -> None:
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / ".gitignore").write_text("result\n")
    [result] = _sarif_of(tmp_path, ["repo-build-artifact"])["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == ".gitignore"
    assert result["message"]["text"].startswith("[node_modules] ")
    assert result["properties"]["path"] == "node_modules"


def test_sarif_has_the_required_2_1_0_shape(seed_report: AuditReport) -> None:
    log = to_sarif(seed_report, all_rules())
    assert log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    assert isinstance(run["tool"]["driver"]["name"], str)
    for rule in run["tool"]["driver"]["rules"]:
        assert {"id", "shortDescription", "fullDescription", "help"} <= set(rule)
    for result in run["results"]:
        assert result["level"] in {"none", "note", "warning", "error"}
        assert result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        assert location["region"]["startLine"] >= 1
        assert not location["artifactLocation"]["uri"].startswith("/")
        assert all(isinstance(v, str) for v in result["partialFingerprints"].values())
