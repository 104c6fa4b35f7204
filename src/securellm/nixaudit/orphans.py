"""Modules nothing loads: no path literal imports them and no entry point starts at them."""

from __future__ import annotations

import posixpath
import re

from securellm.nixaudit import graph, scope
from securellm.nixaudit.flake import locked_inputs
from securellm.nixaudit.repo import Repository

ENTRY_NAMES = frozenset({"flake.nix", "default.nix", "shell.nix", "configuration.nix", "home.nix"})
"""At the repository root these are what nix-build, nixos-rebuild or home-manager start at."""
_PLAIN_STRING = re.compile(r'"[A-Za-z0-9_][\w.+-]*(?:/[\w.+${}-]+)+/?"')
"""A one-line string that looks like a relative path, ``"hosts/common/core"``."""
HOST_FILE_NAMES = frozenset(
    {"configuration.nix", "hardware-configuration.nix", "disko.nix", "disko-config.nix"}
)
"""In a host's directory these are loaded by convention (clan, nixos-anywhere, colmena...)."""
NOT_MODULES = frozenset({"secrets.nix"})
"""agenix's rules file: read by the agenix command, never imported."""
AUTOLOADERS = (
    "nixos-unified",
    "nixos-flake",
    "haumea",
    "import-tree",
    "snowfall-lib",
    "ez-configs",
    "numtide/blueprint",
    "easy-hosts",
)
"""Flake inputs that load modules by directory convention: orphans cannot be told then."""
_ROOTED_TAIL = re.compile(r'"\$\{[^}"]+\}((?:/[\w.+-]+)+)/?"')
"""``"${self}/system"``, ``"${mod}/hardware/ddcci.nix"``: a path below some root."""


def autoloader(repo: Repository) -> str | None:
    """The flake input that loads modules by directory convention, if the flake has one."""
    for item in locked_inputs(repo.root / "flake.lock"):
        for name in AUTOLOADERS:
            if name == item.name or item.source.endswith(name) or f"/{name}" in item.source:
                return item.name
    return None


def orphan_modules(repo: Repository) -> list[str]:
    """Modules that no import, no entry point and no directory a function scans reaches.

    A directory named by a path literal (``mapModules ./modules``, ``./home/${host}.nix``)
    counts as loading every module under it: the auditor cannot see which ones.
    """
    if autoloader(repo) is not None:
        return []
    imported = {e.target for e in graph.edges(repo) if e.exists}
    roots = {r for s in scope.scopes(repo) for r in s.roots}
    scanned = scanned_paths(repo)
    tails = _rooted_tails(repo)
    found = []
    for name, nix_file in sorted(repo.files.items()):
        if not nix_file.is_module or nix_file.parse_error is not None:
            continue
        if name in imported or name in roots or name in ENTRY_NAMES:
            continue
        if posixpath.basename(name) in NOT_MODULES or name in scanned or _host_file(name):
            continue
        if any(name.startswith(d + "/") for d in scanned) or _suffixes(name) & tails:
            continue
        found.append(name)
    return found


def _host_file(name: str) -> bool:
    parts = name.split("/")
    return parts[-1] in HOST_FILE_NAMES and bool(scope.HOST_DIRS & set(parts[:-2]))


def _rooted_tails(repo: Repository) -> set[str]:
    found = set()
    for nix_file in repo.files.values():
        for literal in nix_file.literals:
            match = None if literal.is_path else _ROOTED_TAIL.fullmatch(literal.text)
            if match:
                found.add(match.group(1))
    return found


def _suffixes(name: str) -> set[str]:
    """``/c.nix``, ``/b/c.nix``, ``/b``, ``/a/b``… for ``a/b/c.nix``: what a rooted tail
    naming this file or a directory above it would end with."""
    parts = name.split("/")
    found = set()
    for end in range(1, len(parts) + 1):
        for start in range(end):
            found.add("/" + "/".join(parts[start:end]))
    return found


def scanned_paths(repo: Repository) -> set[str]:
    """Files and directories some literal names (the part before any ``${``).

    Path literals are relative to their file; strings such as ``"hosts/common/core"``
    (handed to a ``relativeToRoot`` helper) to the repository root.
    """
    found: set[str] = set()
    for name, nix_file in repo.files.items():
        for literal in nix_file.literals:
            target = _named(repo, name, literal.text, literal.is_path)
            if target:
                found.add(target)
    return found


def _named(repo: Repository, source: str, text: str, is_path: bool) -> str:
    if is_path:
        if not text.startswith(("./", "../")):
            return ""
        base = posixpath.dirname(source)
    else:
        if not _PLAIN_STRING.fullmatch(text):
            return ""
        text = text.strip('"')
        base = ""
    interpolated = "${" in text
    joined = posixpath.normpath(posixpath.join(base, text.split("${", 1)[0]))
    if joined in repo.files:
        return joined
    try:
        is_dir = (repo.root / joined).is_dir()
    except OSError:
        return ""
    plain = not interpolated and joined != posixpath.dirname(source)  # ./. is a scan
    if is_dir and f"{joined}/default.nix" in repo.files and plain:
        return f"{joined}/default.nix"  # a plain import of the directory, not a scan
    target = joined if is_dir else posixpath.dirname(joined) if interpolated else ""
    return "" if not target or target == "." or target.startswith("..") else target
