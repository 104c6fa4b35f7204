"""The bubblewrap view's command line and environment, and the settings that choose it."""

from __future__ import annotations

from pathlib import Path

import pytest

from securellm.core.config import ConfigError, settings_from_mapping
from securellm.mcp.nix.isolate import View
from securellm.mcp.nix.runner import NixFacts, drv_path

SYSTEM = "x86_64-linux"


def view(tmp_path: Path, environ: dict[str, str] | None = None) -> View:
    env = {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin", **(environ or {})}
    return View([tmp_path / "root"], cwd=tmp_path, environ=env, home=tmp_path / "home")


def pairs(argv: list[str], option: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == option]


def test_the_view_mounts_a_proc_of_its_own_pid_namespace(tmp_path: Path) -> None:
    argv = view(tmp_path).bwrap_argv("/usr/bin/bwrap", ["/usr/bin/nix", "eval"])
    assert "--unshare-pid" in argv
    assert pairs(argv, "--proc") == ["/proc"]
    bound = pairs(argv, "--bind") + pairs(argv, "--ro-bind-try") + pairs(argv, "--bind-try")
    assert not [path for path in bound if path == "/proc" or path.startswith("/proc/")]


def test_the_roots_are_read_only_and_home_is_not_shown(tmp_path: Path) -> None:
    argv = view(tmp_path).bwrap_argv("/usr/bin/bwrap", ["/usr/bin/nix", "eval"])
    assert str(tmp_path / "root") in pairs(argv, "--ro-bind-try")
    writable = pairs(argv, "--bind") + pairs(argv, "--bind-try")
    assert set(writable) == {"/nix", str(tmp_path / "home/.cache/securellm/nix-isolated")}
    shown = pairs(argv, "--ro-bind-try") + writable
    assert str(tmp_path / "home") not in shown
    assert str(tmp_path / "home/.cache/nix") not in shown


def test_only_public_parts_of_etc_are_shown(tmp_path: Path) -> None:
    argv = view(tmp_path).bwrap_argv("/usr/bin/bwrap", ["/usr/bin/nix", "eval"])
    shown = pairs(argv, "--ro-bind-try")
    assert "/etc/nix/nix.conf" in shown
    assert "/etc/ssl/certs" in shown
    assert not {"/etc", "/etc/nix", "/etc/ssl", "/etc/shadow", "/root"} & set(shown)


def test_a_working_directory_outside_the_roots_is_not_entered(tmp_path: Path) -> None:
    argv = view(tmp_path).bwrap_argv("/usr/bin/bwrap", ["/usr/bin/nix", "eval"])
    assert pairs(argv, "--chdir") == ["/"]


def test_credentials_stay_out_of_the_environment(tmp_path: Path) -> None:
    secrets = {"SECURELLM_MASTER_KEY": "k", "OPENAI_API_KEY": "k", "GITHUB_TOKEN": "t"}
    env = view(tmp_path, {**secrets, "NIX_CONFIG": "x = y", "LANG": "C"}).environment()
    assert not set(secrets) & set(env)
    assert (env["NIX_CONFIG"], env["LANG"], env["TMPDIR"]) == ("x = y", "C", "/tmp")


def test_isolation_defaults_to_bwrap_and_takes_only_known_modes() -> None:
    assert settings_from_mapping({}, env={}).mcp.nix_isolation == "bwrap"
    with pytest.raises(ConfigError, match="nix_isolation"):
        settings_from_mapping({"mcp": {"nix_isolation": "sandbox"}}, env={})


def test_an_isolation_path_of_root_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nix_isolation_paths"):
        settings_from_mapping({"mcp": {"nix_isolation_paths": ["/"]}}, env={})


@pytest.mark.parametrize(
    ("version", "installable"),
    [
        ((2, 8), "/nix/store/x.drv"),
        ((2, 13), "/nix/store/x.drv^*"),
        ((2, 24), "/nix/store/x.drv^*"),
    ],
)
def test_a_store_derivation_is_built_with_the_syntax_of_this_nix(
    version: tuple[int, int], installable: str
) -> None:
    assert NixFacts(version, SYSTEM).installable("/nix/store/x.drv") == installable


def test_what_nix_printed_must_be_a_store_derivation() -> None:
    good = "/nix/store/" + "a" * 32 + "-hello.drv"
    assert drv_path(good + "\n") == good
    with pytest.raises(Exception, match="where a store derivation was expected"):
        drv_path("--option sandbox false")
