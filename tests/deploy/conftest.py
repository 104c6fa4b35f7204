"""Fixtures for the deployment tests: Nix evaluation without nixpkgs, and ``config check``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from support.require import require_binary

REPO = Path(__file__).resolve().parents[2]
EVAL_MODULE = Path(__file__).resolve().parent / "nix" / "eval-module.nix"
UNITS_DIR = REPO / "src" / "securellm" / "deploy_units"
CREDENTIALS = "/run/credentials/securellm-gateway.service"


class NixError(Exception):
    """nix-instantiate refused the expression; ``stderr`` says why."""

    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


class Nix:
    """``nix-instantiate --eval`` in read-only mode: pure evaluation, no store, no network."""

    Error = NixError

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def _run(self, args: list[str]) -> Any:
        argv = [self.binary, "--eval", "--strict", "--json", "--readonly-mode", *args]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=60)
        if done.returncode != 0:
            raise NixError(done.stderr)
        return json.loads(done.stdout)

    def expr(self, expression: str) -> Any:
        """Evaluate ``expression``; ``lib`` is bound to nix/lib.nix."""
        return self._run(["--expr", f"let lib = import ./nix/lib.nix; in {expression}"])

    def module(self, securellm: Mapping[str, Any]) -> Any:
        """Evaluate nix/module.nix with ``services.securellm = securellm``."""
        user = json.dumps({"services": {"securellm": securellm}})
        return self._run([str(EVAL_MODULE), "--argstr", "userJson", user])

    def example(self, name: str) -> Any:
        """Evaluate nix/module.nix with the securellm part of nix/examples/NAME.nix."""
        return self._run([str(EVAL_MODULE), "--argstr", "example", name])


def securellm_exe() -> Path:
    """The ``securellm`` script of the venv running the tests."""
    return Path(sys.executable).parent / "securellm"


PROVIDER_NAMES = ("deepseek", "anthropic", "openai")


@pytest.fixture(scope="session")
def nix() -> Nix:
    return Nix(require_binary("nix-instantiate"))


@pytest.fixture
def config_check(tmp_path: Path) -> Callable[[str], subprocess.CompletedProcess[str]]:
    """Run ``securellm config check`` on TOML text, with the gateway's credentials present.

    systemd's LoadCredential= puts the secrets in /run/credentials/<unit>/ at run time; here
    the path is rewritten to a temp directory holding a fake secret per credential id.
    """
    creds = tmp_path / "credentials"
    creds.mkdir()
    for name in ("master_key", "audit_hmac_key", *(f"provider-{p}" for p in PROVIDER_NAMES)):
        (creds / name).write_text(f"not-a-real-{name}\n")

    def run(text: str) -> subprocess.CompletedProcess[str]:
        file = tmp_path / "config.toml"
        file.write_text(text.replace(CREDENTIALS, str(creds)))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SECURELLM_")}
        env["HOME"] = str(tmp_path)
        argv = [str(securellm_exe()), "config", "check", str(file)]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)

    return run


@pytest.fixture(scope="session")
def repo() -> Path:
    """The root of the checkout."""
    return REPO


@pytest.fixture(scope="session")
def units_dir() -> Path:
    """The deployment files shipped as package data."""
    return UNITS_DIR


@pytest.fixture(scope="session")
def securellm() -> Path:
    """The ``securellm`` program the tests run (the venv's)."""
    return securellm_exe()
