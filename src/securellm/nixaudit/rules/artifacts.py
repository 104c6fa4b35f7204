"""Build artifacts and live databases inside the configuration repository."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule

HEAVY_DIRS = {"target": Severity.MEDIUM, "node_modules": Severity.MEDIUM}
LIGHT_DIRS = {".direnv", "__pycache__"}
DATABASE_GLOBS = ("*.db", "*.db-wal", "*.db-shm", "*.db-journal", "*.sqlite", "*.sqlite3")


class BuildArtifacts(Rule):
    id = "repo-build-artifact"
    severity = Severity.MEDIUM
    title = "Build artifacts inside the repository, not ignored by git"
    explanation = (
        "Build output (Rust target/, node_modules/, nix-build result links) can weigh "
        "gigabytes; inside /etc/nixos it slows every git and flake operation (a flake copies "
        "the tracked tree into the store) and ends up committed."
    )
    fix = (
        "Move projects out of the configuration repository (e.g. projects/ in their own "
        "repository) and add the directory to .gitignore (target/, node_modules/, result*)."
    )

    def check(self, repo: Repository) -> Iterator[Finding]:
        for rel in repo.skipped_dirs:
            name = posixpath.basename(rel)
            artifact = name in HEAVY_DIRS or name in LIGHT_DIRS
            if artifact and not repo.is_ignored(rel, is_dir=True):
                severity = HEAVY_DIRS.get(name, Severity.LOW)
                yield self.finding(rel, 1, f"{rel}/ is not ignored", severity=severity)
        for rel in repo.symlinks:
            if posixpath.basename(rel).startswith("result") and not repo.is_ignored(rel):
                yield self.finding(
                    rel, 1, f"{rel} (nix build output link) is not ignored", severity=Severity.LOW
                )


class Databases(Rule):
    id = "repo-database"
    severity = Severity.MEDIUM
    title = "Database file inside the repository, not ignored by git"
    explanation = (
        "Live SQLite files (knowledge.db and its -wal/-shm companions) change on every use, "
        "bloat the history, may hold private data, and a copy taken mid-write is corrupt."
    )
    fix = "Keep runtime data under /var/lib/<service> and add `*.db*` to .gitignore."

    def check(self, repo: Repository) -> Iterator[Finding]:
        for rel in repo.other_files:
            name = posixpath.basename(rel)
            if any(fnmatch.fnmatch(name, g) for g in DATABASE_GLOBS) and not repo.is_ignored(rel):
                yield self.finding(rel, 1, f"{rel} is a database file and is not ignored")


RULES = (BuildArtifacts(), Databases())
