"""The directory tree of a repository's Nix files, annotated with each file's purpose."""

from __future__ import annotations

from dataclasses import dataclass, field

from securellm.nixaudit import graph
from securellm.nixaudit.repo import Repository

MAX_PURPOSE = 70


@dataclass
class _Dir:
    dirs: dict[str, _Dir] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def render_tree(repo: Repository, purposes: dict[str, str]) -> list[str]:
    """Lines of a ``tree``-style drawing; directories say whether they have a default.nix."""
    root = _Dir()
    for name in sorted(repo.files):
        node = root
        *parents, leaf = name.split("/")
        for part in parents:
            node = node.dirs.setdefault(part, _Dir())
        node.files.append(leaf)
    lines = ["./"]
    _render(root, "", "", lines, repo, purposes)
    return lines


def _render(
    node: _Dir, prefix: str, rel: str, lines: list[str], repo: Repository, purposes: dict[str, str]
) -> None:
    entries: list[tuple[str, bool]] = [(d, True) for d in sorted(node.dirs)]
    entries += [(f, False) for f in sorted(node.files)]
    for index, (name, is_dir) in enumerate(entries):
        last = index == len(entries) - 1
        branch, indent = ("└── ", "    ") if last else ("├── ", "│   ")
        path = f"{rel}{name}"
        if is_dir:
            lines.append(f"{prefix}{branch}{name}/{_dir_note(node.dirs[name], path, repo)}")
            _render(node.dirs[name], prefix + indent, f"{path}/", lines, repo, purposes)
        else:
            purpose = purposes.get(path, "")
            if len(purpose) > MAX_PURPOSE:
                purpose = purpose[: MAX_PURPOSE - 1] + "…"
            lines.append(f"{prefix}{branch}{name}" + (f"  # {purpose}" if purpose else ""))


def _dir_note(node: _Dir, path: str, repo: Repository) -> str:
    modules = [f for f in node.files if repo.files[f"{path}/{f}"].is_module]
    if "default.nix" in node.files:
        return "  [default.nix]"
    if len(modules) >= 2 and graph.aggregator(repo, [f"{path}/{m}" for m in modules]) is None:
        return "  [no default.nix]"
    return ""
