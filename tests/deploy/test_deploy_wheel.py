"""The Debian path end to end: a wheel built from this checkout, pip-installed into a fresh
venv, runs ``install-units`` from the installed package (not from the source tree)."""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only the securellm wheel; its dependencies come from the test venv."""
    work = tmp_path_factory.mktemp("wheel")
    # Build from a copy: setuptools leaves build/ and egg-info behind in the tree it builds.
    source = work / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(source)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    (wheel,) = work.glob("securellm-*.whl")
    target = work / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    (purelib,) = target.glob("lib/python3.*/site-packages")
    # Dependencies only: a plain path entry does not run the test venv's editable-install hook.
    (purelib / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = [sys.executable, "-m", "pip", "--python", str(target / "bin/python")]
    install += ["install", "--no-deps", "-q", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    return target


def test_installed_wheel_installs_the_units(installed_venv: Path, tmp_path: Path) -> None:
    program = installed_venv / "bin" / "securellm"
    argv = [str(program), "install-units", "--prefix", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    unit = tmp_path / "etc/systemd/system/securellm-gateway.service"
    assert f"ExecStart={program} gateway" in unit.read_text()


def test_installed_wheel_is_not_the_source_tree(installed_venv: Path) -> None:
    code = "import securellm, sys; sys.stdout.write(securellm.__file__)"
    python = installed_venv / "bin" / "python"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    assert str(installed_venv) in done.stdout
