"""A subdirectory of a git repository is judged by git's ignore rules, parents' included."""

from __future__ import annotations

import subprocess
from pathlib import Path

from securellm.nixaudit import audit_repository
from support.require import require_binary


def git_repo(tmp_path: Path) -> Path:
    subprocess.run([require_binary("git"), "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_parent_gitignore_covers_artifacts_in_the_audited_subdirectory(tmp_path: Path) -> None:
    top = git_repo(tmp_path)
    (top / ".gitignore").write_text("node_modules/\n*.db\nresult\n")
    sub = top / "nixos"
    (sub / "node_modules" / "x").mkdir(parents=True)
    (sub / "state.db").write_bytes(b"SQLite format 3\x00")
    (sub / "configuration.nix").write_text("{ }\n")
    report = audit_repository(sub, rules=["repo-build-artifact", "repo-database"])
    assert report.findings == []


def test_without_the_parent_rule_the_artifact_is_reported(tmp_path: Path) -> None:
    top = git_repo(tmp_path)
    (top / ".gitignore").write_text("*.db\n")
    sub = top / "nixos"
    (sub / "node_modules" / "x").mkdir(parents=True)
    (sub / "configuration.nix").write_text("{ }\n")
    report = audit_repository(sub, rules=["repo-build-artifact"])
    assert [f.file for f in report.findings] == ["node_modules"]


def test_parent_gitignore_means_the_subdirectory_has_one(tmp_path: Path) -> None:
    top = git_repo(tmp_path)
    (top / ".gitignore").write_text("result\nresult-*\n")
    (top / "nixos").mkdir()
    report = audit_repository(top / "nixos", rules=["gitignore-gap"])
    assert not [f for f in report.findings if "no .gitignore" in f.message]
