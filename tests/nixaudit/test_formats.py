"""Text and SARIF renderings of a report."""

from __future__ import annotations

from securellm.nixaudit import AuditReport, all_rules
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
