"""Walk a configuration repository: parse its Nix files and note what else lies in it."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pathspec

from securellm.nixaudit.gitrepo import GitIgnored, git_ignored, git_toplevel
from securellm.nixaudit.model import InvalidPathError
from securellm.nixaudit.nixfile import Assignment, NixFile
from securellm.nixaudit.parser import parse_source

if TYPE_CHECKING:
    from securellm.nixaudit.scope import Scope

SKIPPED_DIRS = frozenset({".git", ".hg", ".jj", ".direnv", "node_modules", "target", "__pycache__"})
"""Directories never descended into; the artifact rule reports the heavy ones."""

MAX_NIX_BYTES = 2_000_000


@dataclass(slots=True)
class Repository:
    """Everything the rules look at, gathered in one pass over the tree."""

    root: Path
    files: dict[str, NixFile] = field(default_factory=dict)
    other_files: list[str] = field(default_factory=list)
    skipped_dirs: list[str] = field(default_factory=list)
    symlinks: list[str] = field(default_factory=list)
    gitignore: pathspec.GitIgnoreSpec | None = None
    git: GitIgnored | None = None  # set inside a git work tree: git's own ignore rules
    by_path: dict[tuple[str, ...], list[Assignment]] = field(default_factory=dict)
    scopes: list[Scope] | None = None  # scope.scopes() fills it on first use

    def definitions(self, *path: str) -> list[Assignment]:
        """Every definition of exactly ``path`` across files."""
        return self.by_path.get(path, [])

    def under(self, *prefix: str) -> list[Assignment]:
        """Every definition whose path starts with ``prefix``."""
        n = len(prefix)
        return [a for p, defs in self.by_path.items() if p[:n] == prefix for a in defs]

    def effective(self, *path: str) -> Assignment | None:
        """The definition that wins for ``path``: the lowest priority number, first file."""
        defs = self.definitions(*path)
        return min(defs, key=lambda a: a.priority) if defs else None

    def winners(self, *path: str) -> list[Assignment]:
        """The definitions of ``path`` at the winning (lowest) priority; several on a tie."""
        defs = self.definitions(*path)
        top = min((a.priority for a in defs), default=0)
        return [a for a in defs if a.priority == top]

    def co_evaluated(self, assignments: list[Assignment]) -> list[list[Assignment]]:
        """Split definitions into the groups one entry point evaluates together (see scope)."""
        from securellm.nixaudit import scope  # scope builds on Repository

        return scope.co_evaluated(self, assignments)

    def is_ignored(self, rel: str, *, is_dir: bool = False) -> bool:
        if self.git is not None:
            return self.git.is_ignored(rel, is_dir=is_dir)
        if self.gitignore is None:
            return False
        return self.gitignore.match_file(rel + "/" if is_dir else rel)

    def read_text(self, rel: str, limit: int = 65_536) -> str:
        """At most ``limit`` bytes of a file, decoded leniently; empty if unreadable."""
        path = self.root / rel
        if not path.is_file():
            return ""  # a FIFO or device would block the audit
        try:
            with path.open("rb") as handle:
                return handle.read(limit).decode("utf-8", "replace")
        except OSError:
            return ""


SHARED_HOST_DIRS = frozenset({"common", "profiles", "shared", "modules"})


def host_of(file: str) -> str | None:
    """``name`` for a file under ``hosts/<name>/``; None for files any host may import."""
    parts = file.split("/")
    if len(parts) >= 3 and parts[0] == "hosts" and parts[1] not in SHARED_HOST_DIRS:
        return parts[1]
    return None


def load_repository(root: Path) -> Repository:
    """Scan ``root``; raises InvalidPathError when it is not a readable directory."""
    if not root.is_dir():
        raise InvalidPathError(f"{root} is not a directory")
    repo = _new_repository(root)
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        _prune(repo, rel_dir, dirpath, dirnames)
        for name in sorted(filenames):
            _add_file(repo, rel_dir, Path(dirpath) / name)
    repo.by_path = _index(f for f in repo.files.values() if f.is_module)
    if repo.git is not None:
        repo.git.prefetch(
            [*(d + "/" for d in repo.skipped_dirs), *repo.symlinks, *repo.other_files]
        )
    return repo


def _new_repository(root: Path) -> Repository:
    repo = Repository(root=root, git=git_ignored(root))
    repo.gitignore = _load_gitignore(root / ".gitignore")
    top = git_toplevel(root) if repo.git is not None else None
    if repo.gitignore is None and top is not None and top != root.resolve():
        repo.gitignore = _load_gitignore(top / ".gitignore")  # the parent's rules apply here
    return repo


def files_root(paths: list[Path]) -> Path:
    """Where single files are audited from: their git work tree, else their common parent."""
    parents = [p.resolve().parent for p in paths]
    top = git_toplevel(parents[0])
    if top is not None and all(p.is_relative_to(top) for p in parents):
        return top
    return Path(os.path.commonpath(parents))


def load_files(paths: list[Path]) -> Repository:
    """A Repository of just ``paths`` (files), named relative to :func:`files_root`."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        raise InvalidPathError(f"not a directory or a file: {', '.join(missing) or '(none)'}")
    root = files_root(paths)
    repo = _new_repository(root)
    for path in paths:
        rel = PurePosixPath(path.resolve().relative_to(root).as_posix())
        _add_file(repo, rel.parent, path)
    repo.by_path = _index(f for f in repo.files.values() if f.is_module)
    return repo


def _prune(repo: Repository, rel_dir: PurePosixPath, dirpath: str, dirnames: list[str]) -> None:
    kept = []
    for name in sorted(dirnames):
        rel = _rel(rel_dir, name)
        if os.path.islink(os.path.join(dirpath, name)):
            repo.symlinks.append(rel)
        elif name in SKIPPED_DIRS:
            repo.skipped_dirs.append(rel)
        else:
            kept.append(name)
    dirnames[:] = kept


def _add_file(repo: Repository, rel_dir: PurePosixPath, path: Path) -> None:
    rel = _rel(rel_dir, path.name)
    if path.is_symlink():
        repo.symlinks.append(rel)
    elif path.suffix == ".nix" and path.is_file():
        repo.files[rel] = _parse_file(path, rel)
    else:
        repo.other_files.append(rel)


def _parse_file(path: Path, rel: str) -> NixFile:
    try:
        size = path.stat().st_size
        if size > MAX_NIX_BYTES:
            return NixFile(
                file=rel, line_count=0, parse_error=(1, f"file too large ({size} bytes)")
            )
        return parse_source(path.read_bytes(), rel)
    except OSError as exc:
        return NixFile(file=rel, line_count=0, parse_error=(1, f"unreadable: {exc.strerror}"))


def _rel(rel_dir: PurePosixPath, name: str) -> str:
    return name if str(rel_dir) == "." else f"{rel_dir}/{name}"


def _load_gitignore(path: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _index(files: Iterable[NixFile]) -> dict[tuple[str, ...], list[Assignment]]:
    index: dict[tuple[str, ...], list[Assignment]] = defaultdict(list)
    for nix_file in files:
        for assignment in nix_file.assignments:
            index[assignment.path].append(assignment)
    return dict(index)
