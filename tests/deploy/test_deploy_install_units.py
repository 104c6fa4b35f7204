"""``securellm install-units``: the plain-systemd files put in place under a prefix."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from securellm.cli import deploy_cmd
from support.require import require_binary

UNITS = ["securellm-gateway.service", "securellm-offload.service", "securellm-mcp.service"]
INSTALLED = [
    *(f"etc/systemd/system/{unit}" for unit in UNITS),
    "etc/sysusers.d/securellm.conf",
    "etc/tmpfiles.d/securellm.conf",
    "etc/polkit-1/rules.d/50-securellm-offload.rules",
    "etc/securellm/gateway.toml",
    "etc/securellm/offload.toml",
    "etc/securellm/mcp.toml",
]


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    deploy_cmd.register(app)
    return app


def install(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli(), ["install-units", *args])
    # Errors go through rich, which wraps long lines: compare with single spaces.
    return result.exit_code, " ".join(result.output.split())


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_install_writes_every_file_under_the_prefix(tmp_path: Path) -> None:
    code, output = install("--prefix", str(tmp_path))
    assert code == 0, output
    assert files_under(tmp_path) == sorted(INSTALLED)


def test_installed_files_are_world_readable_not_writable(tmp_path: Path) -> None:
    install("--prefix", str(tmp_path))
    modes = {oct((tmp_path / name).stat().st_mode & 0o777) for name in INSTALLED}
    assert modes == {"0o644"}


@pytest.mark.parametrize("unit", UNITS)
def test_units_run_the_securellm_of_this_installation(
    tmp_path: Path, securellm: Path, unit: str
) -> None:
    install("--prefix", str(tmp_path))
    text = (tmp_path / "etc/systemd/system" / unit).read_text()
    assert f"ExecStart={securellm} " in text
    assert "/usr/local/bin/securellm" not in text


def test_exec_option_chooses_the_program(tmp_path: Path) -> None:
    program = tmp_path / "opt" / "securellm"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    install("--prefix", str(tmp_path / "root"), "--exec", str(program))
    unit = (tmp_path / "root/etc/systemd/system/securellm-gateway.service").read_text()
    assert f"ExecStart={program} gateway" in unit


def test_dry_run_lists_the_files_and_writes_nothing(tmp_path: Path) -> None:
    code, output = install("--prefix", str(tmp_path / "root"), "--dry-run")
    assert code == 0, output
    assert output.count("would write") == len(INSTALLED)
    assert not (tmp_path / "root").exists()


def test_an_edited_config_is_kept(tmp_path: Path) -> None:
    config = tmp_path / "etc/securellm/gateway.toml"
    config.parent.mkdir(parents=True)
    config.write_text("# mine\n")
    code, output = install("--prefix", str(tmp_path))
    assert code == 0, output
    assert config.read_text() == "# mine\n"
    assert f"kept (exists) {config}" in output


def test_units_are_refreshed_on_reinstall(tmp_path: Path) -> None:
    unit = tmp_path / "etc/systemd/system/securellm-gateway.service"
    install("--prefix", str(tmp_path))
    unit.write_text("stale\n")
    install("--prefix", str(tmp_path))
    assert unit.read_text().startswith("# securellm gateway")


def test_relative_exec_is_refused_with_exit_2(tmp_path: Path) -> None:
    code, output = install("--prefix", str(tmp_path), "--exec", "bin/securellm")
    assert code == 2
    assert "absolute path" in output
    assert not (tmp_path / "etc").exists()


def test_exec_under_home_is_refused_because_protecthome_hides_it(tmp_path: Path) -> None:
    code, output = install("--prefix", str(tmp_path), "--exec", "/home/you/.venv/bin/securellm")
    assert code == 2
    assert "ProtectHome" in output


def test_missing_exec_is_refused(tmp_path: Path) -> None:
    code, output = install("--prefix", str(tmp_path), "--exec", str(tmp_path / "nope"))
    assert code == 2
    assert "not an executable file" in output


def test_unwritable_prefix_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, output = install("--prefix", str(blocker))
    assert code == 2
    assert "cannot write" in output


def test_installed_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze")
    install("--prefix", str(tmp_path))
    units = [str(tmp_path / "etc/systemd/system" / unit) for unit in UNITS]
    done = subprocess.run(
        [analyze, "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    assert done.returncode == 0, done.stderr
