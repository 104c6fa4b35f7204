"""Ask Nix itself whether a file parses: ``nix-instantiate --parse FILE``, one process a file.

The auditor uses it only for the files its own parser rejects (a few, so it stays cheap),
to tell the user's syntax error from a gap in our grammar; the conformance benchmark uses it
for every file of a tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

NIX_INSTANTIATE = "nix-instantiate"
TIMEOUT_S = 30.0
# Nix opens its SQLite state even to parse; processes started together can find it locked
# ("SQLite database '...' is busy"), which says nothing about the file: ask again.
_BUSY_MARK = "is busy"
_BUSY_TRIES = 4
_BUSY_PAUSE_S = 0.2


def find_nix() -> str | None:
    """The path of ``nix-instantiate`` on PATH, or None."""
    return shutil.which(NIX_INSTANTIATE)


@dataclass(frozen=True, slots=True)
class NixVerdict:
    """What Nix said: ``accepted`` is None when it could not say (no binary, timeout)."""

    accepted: bool | None
    error: str = ""


def nix_parse(
    binary: str, path: Path, *, timeout: float = TIMEOUT_S, env: Mapping[str, str] | None = None
) -> NixVerdict:
    """Run ``nix-instantiate --parse path``; the verdict with Nix's first ``error:`` line.

    ``env`` replaces the environment (None: the caller's, so the user's nix.conf applies).
    A locked Nix database is retried, then is no verdict (never a syntax error)."""
    for attempt in range(_BUSY_TRIES):
        verdict = _parse_once(binary, path, timeout=timeout, env=env)
        if _BUSY_MARK not in verdict.error:
            return verdict
        time.sleep(_BUSY_PAUSE_S * (attempt + 1))
    return NixVerdict(None, verdict.error)


def _parse_once(
    binary: str, path: Path, *, timeout: float, env: Mapping[str, str] | None
) -> NixVerdict:
    try:
        result = subprocess.run(
            [binary, "--parse", "--", str(path)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
            env=None if env is None else dict(env),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return NixVerdict(None, type(exc).__name__)
    if result.returncode == 0:
        return NixVerdict(True)
    errors = [ln for ln in result.stderr.decode("utf-8", "replace").splitlines() if "error:" in ln]
    if not errors:
        return NixVerdict(None, f"exit status {result.returncode}")
    return NixVerdict(False, errors[0].split("error:", 1)[1].strip())


def nix_verdicts(
    binary: str,
    paths: Iterable[Path],
    *,
    workers: int | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[Path, NixVerdict]:
    """``nix_parse`` for each path, run ``workers`` at a time (default: one per CPU)."""
    todo = list(paths)
    count = workers or os.cpu_count() or 1
    if todo:  # one alone first, so a fresh state dir is created by one process, not many
        first = {todo[0]: nix_parse(binary, todo[0], env=env)}
        rest = _verdicts_pool(binary, todo[1:], count, env)
        return first | rest
    return {}


def _verdicts_pool(
    binary: str, todo: list[Path], count: int, env: Mapping[str, str] | None
) -> dict[Path, NixVerdict]:
    """``nix_parse`` over ``todo`` in a pool of ``count`` threads."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        verdicts = pool.map(lambda p: nix_parse(binary, p, env=env), todo)
        return dict(zip(todo, verdicts, strict=True))


def isolated_env(home: Path) -> dict[str, str]:
    """The caller's environment with HOME and Nix's state under ``home``: Nix's defaults,
    no user nix.conf, nothing written outside ``home``."""
    return {**os.environ, "HOME": str(home), "NIX_STATE_DIR": str(home / "state")}
