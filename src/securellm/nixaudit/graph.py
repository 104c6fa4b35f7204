"""Imports between files: resolving a path literal to the file it names."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from securellm.nixaudit.nixfile import ImportRef
from securellm.nixaudit.repo import Repository


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str  # repository-relative, or the literal when it points outside
    line: int
    exists: bool
    external: bool


def resolve(repo: Repository, source: str, ref: ImportRef) -> Edge | None:
    """The file an import names; None for absolute paths (another rule reports those)."""
    if not ref.target.startswith(("./", "../")) and ref.target not in {".", ".."}:
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(source), ref.target))
    on_disk = repo.root / joined
    if on_disk.is_dir():
        joined = posixpath.join(joined, "default.nix") if joined != "." else "default.nix"
        on_disk = repo.root / joined
    external = joined == ".." or joined.startswith("../")
    return Edge(source, joined, ref.line, on_disk.is_file(), external)


def edges(repo: Repository) -> list[Edge]:
    """Every resolvable import edge of the repository, in file order."""
    result = []
    for name in sorted(repo.files):
        for ref in repo.files[name].imports:
            edge = resolve(repo, name, ref)
            if edge is not None:
                result.append(edge)
    return result


def aggregator(repo: Repository, modules: list[str]) -> str | None:
    """The module of ``modules`` (one directory) that imports all the others, if any."""
    wanted = set(modules)
    for name in sorted(modules):
        targets = set()
        for ref in repo.files[name].imports:
            edge = resolve(repo, name, ref)
            if edge is not None:
                targets.add(edge.target)
        if wanted - {name} <= targets:
            return name
    return None
