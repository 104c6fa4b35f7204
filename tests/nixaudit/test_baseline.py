"""Fingerprints survive line moves; a baseline hides exactly the findings it recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from securellm.nixaudit import audit_repository
from securellm.nixaudit.baseline import write_baseline
from securellm.nixaudit.model import InvalidConfigError

RULES = ["hardcoded-etc-nixos"]
ONE = "{\n  a = /etc/nixos/a.nix;\n}\n"


def repo_with(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "repo"
    root.mkdir(exist_ok=True)
    (root / "m.nix").write_text(text)
    return root


def test_fingerprint_is_stable_when_lines_move(tmp_path: Path) -> None:
    root = repo_with(tmp_path, ONE)
    before = audit_repository(root, rules=RULES).findings[0]
    (root / "m.nix").write_text("# a new header\n\n" + ONE)
    after = audit_repository(root, rules=RULES).findings[0]
    assert (after.line, after.fingerprint) == (before.line + 2, before.fingerprint)


def test_fingerprint_changes_when_the_line_changes(tmp_path: Path) -> None:
    root = repo_with(tmp_path, ONE)
    before = audit_repository(root, rules=RULES).findings[0]
    (root / "m.nix").write_text(ONE.replace("a.nix", "other.nix"))
    assert audit_repository(root, rules=RULES).findings[0].fingerprint != before.fingerprint


def test_identical_lines_get_distinct_fingerprints(tmp_path: Path) -> None:
    root = repo_with(tmp_path, "[\n  /etc/nixos/a.nix\n  /etc/nixos/a.nix\n]\n")
    prints = [f.fingerprint for f in audit_repository(root, rules=RULES).findings]
    assert len(set(prints)) == 2


def test_baseline_hides_recorded_findings_after_a_line_move(tmp_path: Path) -> None:
    root = repo_with(tmp_path, ONE)
    baseline = tmp_path / "baseline.json"
    write_baseline(baseline, audit_repository(root, rules=RULES))
    (root / "m.nix").write_text("# moved\n" + ONE)
    report = audit_repository(root, rules=RULES, baseline=baseline)
    assert (report.findings, report.suppressed) == ([], 1)


def test_baseline_reports_a_new_finding(tmp_path: Path) -> None:
    root = repo_with(tmp_path, ONE)
    baseline = tmp_path / "baseline.json"
    write_baseline(baseline, audit_repository(root, rules=RULES))
    (root / "m.nix").write_text(ONE.replace("}", "  b = /etc/nixos/b.nix;\n}"))
    report = audit_repository(root, rules=RULES, baseline=baseline)
    assert [f.line for f in report.findings] == [3]


def test_baseline_file_records_rule_file_and_fingerprint(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    write_baseline(baseline, audit_repository(repo_with(tmp_path, ONE), rules=RULES))
    entry = json.loads(baseline.read_text())["findings"][0]
    assert set(entry) == {"rule_id", "file", "fingerprint"}


@pytest.mark.parametrize("text", ["not json", "[]", '{"version": 9, "findings": []}'])
def test_a_file_that_is_not_a_baseline_is_an_error(tmp_path: Path, text: str) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(text)
    with pytest.raises(InvalidConfigError):
        audit_repository(repo_with(tmp_path, ONE), rules=RULES, baseline=baseline)
