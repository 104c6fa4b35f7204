"""The fixtures are what they claim: nix-instantiate --parse agrees with our parser."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from securellm.nixaudit.parser import parse_source
from support.require import require_binary

FIXTURES = Path(__file__).parent / "fixtures"
NIX_FILES = sorted(FIXTURES.rglob("*.nix"))


@pytest.mark.nix
@pytest.mark.parametrize("path", NIX_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_nix_instantiate_agrees_on_validity(path: Path, tmp_path: Path) -> None:
    binary = require_binary("nix-instantiate")
    result = subprocess.run(
        [binary, "--parse", str(path)],
        capture_output=True,
        timeout=60,
        check=False,
        env={
            "HOME": str(tmp_path),
            "NIX_STATE_DIR": str(tmp_path / "state"),
            "PATH": "/usr/bin:/bin",
        },
    )
    ours_valid = parse_source(path.read_bytes(), path.name).parse_error is None
    assert (result.returncode == 0) == ours_valid, result.stderr.decode(errors="replace")


def test_only_the_deliberately_broken_fixtures_are_invalid() -> None:
    invalid = FIXTURES / "syntax" / "invalid"
    broken = [
        p.name
        for p in NIX_FILES
        if parse_source(p.read_bytes()).parse_error and not p.is_relative_to(invalid)
    ]
    assert broken == ["broken.nix"]
