"""The blueprint: snapshots of both fixture repositories, and kept manual notes.

Regenerate the snapshots after an intended change with NIXAUDIT_UPDATE_SNAPSHOTS=1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from securellm.nixaudit import InvalidPathError, generate_blueprint

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("NIXAUDIT_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_seed_blueprint_matches_snapshot(seed_repo: Path) -> None:
    _check_snapshot("seed_repo.md", generate_blueprint(seed_repo))


def test_clean_blueprint_matches_snapshot(clean_repo: Path) -> None:
    _check_snapshot("clean_repo.md", generate_blueprint(clean_repo))


def test_hand_written_notes_survive_regeneration(clean_repo: Path) -> None:
    first = generate_blueprint(clean_repo)
    edited = first.replace(
        "<!-- manual:design-decisions -->\n",
        "<!-- manual:design-decisions -->\nsec/ holds the final overrides.\n",
    )
    assert (
        "sec/ holds the final overrides.\n<!-- /manual:design-decisions -->"
        in generate_blueprint(clean_repo, edited)
    )


def test_regenerating_an_unedited_blueprint_changes_nothing(clean_repo: Path) -> None:
    first = generate_blueprint(clean_repo)
    assert generate_blueprint(clean_repo, first) == first


def test_blueprint_lists_declared_options(clean_repo: Path) -> None:
    assert "| `kernelcore.core.nix.maxJobs` | mkOption |" in generate_blueprint(clean_repo)


def test_blueprint_draws_missing_imports_dashed(seed_repo: Path) -> None:
    assert "-.->|missing|" in generate_blueprint(seed_repo)


def test_blueprint_of_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidPathError):
        generate_blueprint(tmp_path / "nope")
