"""Fixture repositories: the seed's problems (seed_repo) and their clean twin (clean_repo).

The Nix files live under fixtures/; build artifacts, databases and a private key are added
to a temporary copy at test time so that none of them sits in this project's own tree.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from securellm.nixaudit import AuditReport, audit_repository

FIXTURES = Path(__file__).parent / "fixtures"
# Split so that secret scanners do not flag this test file itself.
FAKE_KEY = (
    "-----BEGIN OPENSSH "
    + "PRIVATE KEY-----\n"
    + base64.b64encode(b"not a key " * 6).decode()
    + "\n-----END OPENSSH "
    + "PRIVATE KEY-----\n"
)


def add_artifacts(root: Path) -> None:
    """What the seed found inside /etc/nixos: target/, node_modules/, live DBs, a key, result."""
    project = root / "modules/ml/Security-Architect"
    (project / "target/debug").mkdir(parents=True)
    (project / "target/debug/securellm").write_bytes(b"\x7fELF")
    (project / "Cargo.toml").write_text('[package]\nname = "x"\n')
    (root / "modules/ml/unified-llm/node_modules/left-pad").mkdir(parents=True)
    (root / "modules/ml/unified-llm/node_modules/left-pad/package.json").write_text("{}")
    (root / "modules/ml/knowledge.db").write_bytes(b"SQLite format 3\x00")
    (root / "modules/ml/knowledge.db-wal").write_bytes(b"")
    (root / "secrets").mkdir(exist_ok=True)
    (root / "secrets/id_ed25519").write_text(FAKE_KEY)
    os.symlink("/nix/store/00000000000000000000000000000000-nixos-system", root / "result")


def copy_fixture(name: str, destination: Path, *, artifacts: bool = True) -> Path:
    target = destination / name
    shutil.copytree(FIXTURES / name, target)
    if artifacts:
        add_artifacts(target)
    return target


@pytest.fixture(scope="session")
def seed_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed's repository (read-only for tests: do not modify it)."""
    return copy_fixture("seed_repo", tmp_path_factory.mktemp("seed"))


@pytest.fixture(scope="session")
def clean_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean twin, with the same artifacts present but ignored by its .gitignore."""
    return copy_fixture("clean_repo", tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="session")
def seed_report(seed_repo: Path) -> AuditReport:
    return audit_repository(seed_repo)


@pytest.fixture(scope="session")
def clean_report(clean_repo: Path) -> AuditReport:
    return audit_repository(clean_repo)


AuditFiles = Callable[..., AuditReport]


@pytest.fixture
def audit_files(tmp_path: Path) -> AuditFiles:
    """Audit a small repository built from {relative path: text}; ``rules`` as in the API.

    Files whose text does not start with ``{`` or a comment get wrapped as a NixOS module.
    """

    def run(files: dict[str, str], rules: list[str] | None = None) -> AuditReport:
        root = tmp_path / "repo"
        root.mkdir(exist_ok=True)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                text
                if text.lstrip().startswith(("{", "#")) or not rel.endswith(".nix")
                else module(text)
            )
        return audit_repository(root, rules=rules)

    return run


def module(body: str) -> str:
    """A NixOS module with ``body`` as its attribute set's contents."""
    return "{ config, lib, pkgs, ... }:\n{\n" + body + "\n}\n"
