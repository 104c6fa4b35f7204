"""Single-user Nix: the install is detected and the options it needs are passed to ``nix``."""

from __future__ import annotations

import json
import os
import stat
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from securellm.mcp.errors import NixUnavailableError
from securellm.mcp.nix import install
from securellm.mcp.nix.install import NixInstall
from securellm.mcp.nix.runner import NixRunner
from support.require import require_binary

MULTI_USER_ROOT = NixInstall(
    euid=0,
    build_users_group="nixbld",
    group_exists=True,
    store="auto",
    state_dir_exists=True,
    state_dir_writable=True,
    daemon_socket=True,
)
SINGLE_USER_ROOT = replace(MULTI_USER_ROOT, group_exists=False, daemon_socket=False)
USER = replace(
    MULTI_USER_ROOT,
    euid=1000,
    build_users_group="",
    state_dir_writable=False,
    daemon_socket=True,
)
EMPTY_GROUP = ["--option", "build-users-group", ""]


def test_root_whose_build_group_does_not_exist_builds_as_itself() -> None:
    assert SINGLE_USER_ROOT.options() == EMPTY_GROUP


def test_root_of_a_multi_user_install_keeps_its_build_users() -> None:
    assert MULTI_USER_ROOT.options() == []


def test_root_with_build_users_turned_off_needs_nothing() -> None:
    assert replace(SINGLE_USER_ROOT, build_users_group="").options() == []


def test_a_user_other_than_root_never_gets_build_user_options() -> None:
    assert replace(USER, build_users_group="nixbld", group_exists=False).options() == []


def test_a_user_talking_to_the_daemon_has_no_problem() -> None:
    assert USER.problem() is None


def test_a_user_who_owns_the_store_has_no_problem() -> None:
    assert replace(USER, daemon_socket=False, state_dir_writable=True).problem() is None


def test_a_user_on_a_machine_without_nix_state_gets_a_store_of_their_own() -> None:
    assert replace(USER, daemon_socket=False, state_dir_exists=False).problem() is None


def test_a_user_who_cannot_write_the_store_and_has_no_daemon_is_told_what_to_do() -> None:
    problem = replace(USER, daemon_socket=False).problem()
    assert problem is not None
    assert "nix-daemon" in problem
    assert "--store" in problem


def test_an_explicitly_chosen_store_is_left_to_nix() -> None:
    assert replace(USER, daemon_socket=False, store="daemon").problem() is None


def test_show_config_values_are_read() -> None:
    text = json.dumps({"build-users-group": {"value": "builders"}, "store": {"value": "daemon"}})
    assert install.parse_config(text) == ("builders", "daemon")


def test_unreadable_show_config_means_nix_defaults() -> None:
    group, store = install.parse_config("not json")
    assert (group, store) == ("nixbld" if os.geteuid() == 0 else "", "auto")


def test_the_real_nix_reports_its_build_group_and_store() -> None:
    import subprocess

    nix = require_binary("nix")
    argv = [nix, "--extra-experimental-features", "nix-command flakes", "show-config", "--json"]
    shown = json.loads(subprocess.run(argv, capture_output=True, check=True).stdout)
    assert install.parse_config(json.dumps(shown)) == (
        shown["build-users-group"]["value"],
        shown["store"]["value"],
    )


def recording_nix(tmp_path: Path, group: str) -> tuple[Path, Path]:
    """A stand-in ``nix`` that logs its argv and answers show-config with ``group``."""
    log = tmp_path / "argv.log"
    config = json.dumps({"build-users-group": {"value": group}, "store": {"value": "auto"}})
    script = tmp_path / "recording-nix"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s|" "$@" >> {log}; echo >> {log}\n'
        f"case \"$*\" in *show-config*) echo '{config}';; *) echo '{{}}';; esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


async def test_the_detected_option_reaches_every_command(tmp_path: Path) -> None:
    script, log = recording_nix(tmp_path, "group-that-does-not-exist")
    runner = NixRunner(str(script))
    await runner.run(["flake", "show", "x"], timeout_s=30)
    await runner.run(["eval", "x"], timeout_s=30)
    calls = log.read_text().splitlines()
    assert len(calls) == 3  # one show-config, then the two commands
    expected = os.geteuid() == 0
    assert all(("build-users-group||" in call) is expected for call in calls[1:])


async def test_a_configured_build_group_skips_detection(tmp_path: Path) -> None:
    script, log = recording_nix(tmp_path, "group-that-does-not-exist")
    await NixRunner(str(script), build_users_group="").run(["eval", "x"], timeout_s=30)
    calls = log.read_text().splitlines()
    assert len(calls) == 1
    assert "build-users-group||eval|x|" in calls[0]


async def test_an_unusable_store_is_reported_before_the_command_runs(tmp_path: Path) -> None:
    script, log = recording_nix(tmp_path, "")
    stuck = replace(USER, daemon_socket=False)
    runner = NixRunner(str(script), inspect=lambda group, store: stuck)
    with pytest.raises(NixUnavailableError, match="nix-daemon"):
        await runner.run(["eval", "x"], timeout_s=30)
    assert "eval" not in log.read_text()


async def test_a_build_succeeds_although_the_build_group_does_not_exist(tmp_path: Path) -> None:
    """The fresh-machine failure: Nix's build-users-group names a group the system lacks."""
    require_binary("nix")
    flake = tmp_path / "flake"
    flake.mkdir()
    (flake / "flake.nix").write_text(
        "{ outputs = { self }: { packages.x86_64-linux.x = builtins.derivation {\n"
        '  name = "x"; system = "x86_64-linux"; builder = "/bin/sh";\n'
        f'  nonce = "{uuid.uuid4().hex}"; args = [ "-c" "echo ok > $out" ]; }}; }}; }}\n'
    )
    options = [
        *("--option", "substituters", ""),
        *("--option", "extra-sandbox-paths", "/bin /usr /lib /lib64?"),
        *("--option", "build-users-group", "securellm-group-that-does-not-exist"),
    ]
    runner = NixRunner("nix", extra_options=options)
    result = await runner.run(
        ["build", "--no-link", "--json", f"path:{flake}#packages.x86_64-linux.x"], timeout_s=120
    )
    assert result.returncode == 0, result.stderr_tail
    out = json.loads(result.stdout)[0]["outputs"]["out"]
    assert Path(out).read_text() == "ok\n"
