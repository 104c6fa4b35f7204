"""Auditing single files (editors, pre-commit): per-file rules run, whole-repo rules say so."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from securellm.nixaudit.audit import audit_files
from securellm.nixaudit.model import InvalidPathError
from support.require import require_binary


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_only_the_given_files_are_audited(tmp_path: Path) -> None:
    one = write(tmp_path, "a/one.nix", "{ x = /etc/nixos/x.nix; }\n")
    write(tmp_path, "a/two.nix", "{ y = /etc/nixos/y.nix; }\n")
    report = audit_files([one])
    assert (report.files_scanned, [f.file for f in report.findings]) == (1, ["one.nix"])


def test_whole_repository_rules_are_listed_as_skipped(tmp_path: Path) -> None:
    report = audit_files([write(tmp_path, "m.nix", "{ }\n")])
    assert "duplicate-setting" in report.skipped_rules
    assert "parse-error" not in report.skipped_rules


def test_parse_errors_are_found_in_a_single_file(tmp_path: Path) -> None:
    report = audit_files([write(tmp_path, "m.nix", "{ a = 1 }\n")], rules=["parse-error"])
    assert [(f.rule_id, f.line) for f in report.findings] == [("parse-error", 1)]


def test_a_directory_or_missing_path_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidPathError):
        audit_files([tmp_path / "absent.nix"])


def test_files_in_a_git_repo_are_named_from_its_top_and_use_its_config(tmp_path: Path) -> None:
    git = require_binary("git")
    subprocess.run([git, "init", "-q", str(tmp_path)], check=True)
    write(tmp_path, ".securellm-nix.toml", '[severity]\nhardcoded-etc-nixos = "info"\n')
    path = write(tmp_path, "hosts/box/m.nix", "{ x = /etc/nixos/x.nix; }\n")
    [finding] = audit_files([path], rules=["hardcoded-etc-nixos"]).findings
    assert (finding.file, finding.severity.value) == ("hosts/box/m.nix", "info")
