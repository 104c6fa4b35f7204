"""Repository scanning: what is parsed, what is skipped, how winners are chosen."""

from __future__ import annotations

import os
from pathlib import Path

from securellm.nixaudit.repo import load_repository


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_nix_files_are_parsed_under_relative_posix_names(tmp_path: Path) -> None:
    repo = load_repository(_write(tmp_path, {"a/b.nix": "{ }", "c.md": "x"}))
    assert (list(repo.files), repo.other_files) == (["a/b.nix"], ["c.md"])


def test_build_directories_are_not_descended(tmp_path: Path) -> None:
    repo = load_repository(_write(tmp_path, {"p/target/x.nix": "{ }", "node_modules/y.nix": "{ }"}))
    assert (repo.files, sorted(repo.skipped_dirs)) == ({}, ["node_modules", "p/target"])


def test_gitignore_patterns_are_honoured(tmp_path: Path) -> None:
    repo = load_repository(_write(tmp_path, {".gitignore": "*.db\ntarget/\n"}))
    assert repo.is_ignored("x/k.db")
    assert repo.is_ignored("a/target", is_dir=True)


def test_effective_definition_is_the_lowest_priority_number(tmp_path: Path) -> None:
    repo = load_repository(
        _write(tmp_path, {"a.nix": "{ x = lib.mkDefault 1; }", "b.nix": "{ x = lib.mkForce 2; }"})
    )
    winner = repo.effective("x")
    assert winner is not None
    assert winner.file == "b.nix"


def test_winners_lists_every_tied_definition(tmp_path: Path) -> None:
    repo = load_repository(_write(tmp_path, {"a.nix": "{ x = 1; }", "b.nix": "{ x = 2; }"}))
    assert sorted(w.file for w in repo.winners("x")) == ["a.nix", "b.nix"]


def test_special_files_named_like_nix_are_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.nix")
    os.mkfifo(tmp_path / "keys.txt")
    repo = load_repository(tmp_path)
    assert (repo.files, repo.read_text("keys.txt")) == ({}, "")
