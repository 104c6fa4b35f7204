"""Which files one configuration evaluates together: entry points and their import closure.

An entry point is a host the flake builds (``nixosConfigurations.<h>``,
``darwinConfigurations.<h>``, ``homeConfigurations.<h>``) or, without a flake, each
``hosts/<h>/`` directory. Its files are the modules it names and everything they import
with path literals. Two definitions are compared only when one entry point sees both.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass

from securellm.nixaudit import graph
from securellm.nixaudit.flake import FlakeHost, flake_hosts
from securellm.nixaudit.nixfile import Assignment, ImportRef
from securellm.nixaudit.repo import Repository, host_of

_ROOT_STRING = re.compile(r'"[A-Za-z0-9_][\w.+-]*(?:/[\w.+-]+)+/?"')
"""A one-line string that may name a repository path relative to the root."""
HOST_DIRS = frozenset({"hosts", "machines", "systems", "nixos", "darwin", "home", "homes", "users"})
ROOT_NAMES = ("default.nix", "configuration.nix", "home.nix")


@dataclass(frozen=True, slots=True)
class Scope:
    name: str
    kind: str  # nixos, darwin, home, or "directory" for a hosts/<h>/ without a flake
    roots: frozenset[str]
    files: frozenset[str]


def scopes(repo: Repository) -> list[Scope]:
    """The entry points of the repository (computed once per Repository)."""
    if repo.scopes is None:
        repo.scopes = _compute(repo)
    return repo.scopes


def co_evaluated(repo: Repository, assignments: list[Assignment]) -> list[list[Assignment]]:
    """The groups of ``assignments`` that one entry point evaluates together.

    Without any entry point the whole list is one group. With entry points, a definition
    in a file no entry point reaches is compared with nothing.
    """
    if len({a.file for a in assignments}) < 2:
        return [assignments]  # one file's definitions are evaluated together, or not at all
    found = scopes(repo)
    if not found:
        return [assignments]
    groups: list[list[Assignment]] = []
    seen: set[frozenset[int]] = set()
    for scope in found:
        group = [a for a in assignments if a.file in scope.files]
        key = frozenset(id(a) for a in group)
        if len(group) > 1 and key not in seen:
            seen.add(key)
            groups.append(group)
    return groups


def _compute(repo: Repository) -> list[Scope]:
    adjacency = _adjacency(repo)
    entries = _host_scopes(repo, adjacency)
    return entries + _nested_scopes(repo, adjacency, entries) if entries else entries


def _host_scopes(repo: Repository, adjacency: dict[str, set[str]]) -> list[Scope]:
    entries: list[Scope] = []
    for host in flake_entry_hosts(repo):
        roots = _roots_of(repo, host)
        if roots:
            entries.append(Scope(host.name, host.kind, roots, _closure(roots, adjacency)))
    if entries:
        return entries
    by_dir: dict[str, list[str]] = defaultdict(list)
    for name in repo.files:
        directory = host_of(name)
        if directory is not None:
            by_dir[directory].append(name)
    for directory, names in sorted(by_dir.items()):
        roots = _dir_roots(repo, f"hosts/{directory}") or frozenset(names)
        entries.append(Scope(directory, "directory", roots, _closure(roots, adjacency)))
    return entries or _import_roots(repo, adjacency)


def _nested_scopes(
    repo: Repository, adjacency: dict[str, set[str]], hosts: list[Scope]
) -> list[Scope]:
    """One evaluation per import made under an attribute a host reaches (home-manager users)."""
    reached = {f for h in hosts for f in h.files}
    found: dict[str, Scope] = {}
    for name in sorted(reached):
        for ref in repo.files[name].imports:
            edge = graph.resolve(repo, name, ref)
            if ref.context and edge is not None and edge.exists and edge.target not in found:
                roots = frozenset({edge.target})
                found[edge.target] = Scope(ref.context, "nested", roots, _closure(roots, adjacency))
    return list(found.values())


def _import_roots(repo: Repository, adjacency: dict[str, set[str]]) -> list[Scope]:
    """Without hosts: each module no other file imports starts one evaluation.

    Modules that import nothing and that nothing imports all form one group (a flat
    directory of modules a single configuration might list); every other root is its own
    evaluation with what it imports.
    """
    imported = {t for targets in adjacency.values() for t in targets}
    modules = sorted(n for n, f in repo.files.items() if f.is_module)
    roots = [m for m in modules if m not in imported and adjacency.get(m)]
    loose = frozenset(m for m in modules if m not in imported and not adjacency.get(m))
    entries = [
        Scope(r, "import-root", frozenset({r}), _closure(frozenset({r}), adjacency)) for r in roots
    ]
    if entries and loose:
        return entries
    return entries + ([Scope("*", "import-root", loose, loose)] if loose else [])


def flake_entry_hosts(repo: Repository) -> list[FlakeHost]:
    """The hosts the root flake.nix defines; [] without one."""
    if "flake.nix" not in repo.files:
        return []
    try:
        source = (repo.root / "flake.nix").read_bytes()
    except OSError:
        return []
    return flake_hosts(source)


def _roots_of(repo: Repository, host: FlakeHost) -> frozenset[str]:
    roots: set[str] = set()
    for literal in host.modules:
        edge = graph.resolve(repo, "flake.nix", ImportRef(literal, 1))
        if edge is not None and edge.target in repo.files:
            roots.add(edge.target)
        elif edge is not None:
            roots |= _dir_roots(repo, edge.target.removesuffix("/default.nix"))
    if roots or host.pattern:
        return frozenset(roots)
    return _by_name(repo, host.name)


def _by_name(repo: Repository, name: str) -> frozenset[str]:
    """Files of a host found by its name: ``hosts/<name>/``, ``home/<user>/<host>.nix``..."""
    wanted = {name, *name.split("@")} - {""}
    roots: set[str] = set()
    directories = {posixpath.dirname(f) for f in repo.files}
    for directory in sorted(directories):
        parts = directory.split("/")
        if parts[-1] in wanted and HOST_DIRS & set(parts[:-1]):
            roots |= _dir_roots(repo, directory)
    for file in repo.files:
        parts = file.split("/")
        if parts[-1].removesuffix(".nix") in wanted and HOST_DIRS & set(parts[:-1]):
            roots.add(file)
    return frozenset(roots)


def _dir_roots(repo: Repository, directory: str) -> frozenset[str]:
    for name in ROOT_NAMES:
        if f"{directory}/{name}" in repo.files:
            return frozenset({f"{directory}/{name}"})
    return frozenset(f for f in repo.files if posixpath.dirname(f) == directory)


def _adjacency(repo: Repository) -> dict[str, set[str]]:
    """Imports one evaluation follows: path literals at the module's top level, and
    strings naming a repository file or directory (``relativeToRoot "hosts/common"``).

    Imports under an attribute (``home-manager.users.me.imports``) start another
    evaluation and are not followed.
    """
    adjacency: dict[str, set[str]] = defaultdict(set)
    for name in sorted(repo.files):
        for ref in repo.files[name].imports:
            edge = graph.resolve(repo, name, ref)
            if edge is not None and edge.exists and not ref.context:
                adjacency[name].add(edge.target)
        adjacency[name] |= _root_relative(repo, name)
    return adjacency


def _root_relative(repo: Repository, name: str) -> set[str]:
    found = set()
    for literal in repo.files[name].literals:
        text = literal.text
        if literal.is_path or not _ROOT_STRING.fullmatch(text):
            continue
        target = text.strip('"').rstrip("/")
        if target in repo.files:
            found.add(target)
        elif f"{target}/default.nix" in repo.files:
            found.add(f"{target}/default.nix")
    return found


def _closure(roots: frozenset[str], adjacency: dict[str, set[str]]) -> frozenset[str]:
    seen = set(roots)
    stack = list(roots)
    while stack:
        for target in adjacency.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return frozenset(seen)
