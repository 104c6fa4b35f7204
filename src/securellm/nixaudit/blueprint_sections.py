"""Blueprint sections about the repository's entry points: hosts, inputs, root files, orphans."""

from __future__ import annotations

import posixpath
from collections import Counter

from securellm.nixaudit import scope
from securellm.nixaudit.flake import locked_inputs
from securellm.nixaudit.nixfile import NixFile
from securellm.nixaudit.orphans import autoloader, orphan_modules
from securellm.nixaudit.repo import Repository, host_of

KIND_NAMES = {"nixos": "NixOS", "darwin": "nix-darwin", "home": "home-manager"}
MAX_ROOT_ENTRIES = 30


def purpose(repo: Repository, name: str, nix_file: NixFile) -> str:
    """The comment that opens the file (before any code), or a flake's ``description``."""
    if nix_file.header and _opens_with_comment(repo.read_text(name, 4096)):
        return nix_file.header
    described = [a for a in nix_file.assignments if a.path == ("description",)]
    return described[0].value if described and described[0].kind == "string" else ""


def _opens_with_comment(text: str) -> bool:
    return text.lstrip().startswith(("#", "/*"))


def hosts(repo: Repository) -> list[tuple[str, str]]:
    """(host, where and what): the flake's hosts of all kinds, else hosts/<name>/ dirs."""
    found: list[tuple[str, str]] = []
    roots = {s.name: s.roots for s in scope.scopes(repo)}
    for host in scope.flake_entry_hosts(repo):
        label = f"`{host.name}` (pattern)" if host.pattern else host.name
        entry = ", ".join(sorted(roots.get(host.name, ()))) or "modules not resolved"
        found.append((label, f"{KIND_NAMES[host.kind]}, flake.nix:{host.line}; {entry}"))
    if found:
        return found
    directories = sorted({d for n in repo.files if (d := host_of(n)) is not None})
    return [(d, f"hosts/{d}/") for d in directories]


def inputs_section(repo: Repository) -> str:
    lines = ["## Flake inputs", ""]
    pinned = locked_inputs(repo.root / "flake.lock")
    if not pinned:
        return "\n".join([*lines, "No flake.lock (or no inputs): nothing is pinned."])
    lines += ["| Input | Source | Pinned revision |", "|---|---|---|"]
    for item in pinned:
        lines.append(f"| `{item.name}` | {item.source} | {f'`{item.rev}`' if item.rev else '—'} |")
    return "\n".join(lines)


def root_files_section(repo: Repository) -> str:
    """The repository's own non-Nix files at the root, and root directories without Nix."""
    lines = ["## Other files at the root", ""]
    top_files = sorted(f for f in repo.other_files if "/" not in f)
    nix_dirs = {n.split("/", 1)[0] for n in repo.files if "/" in n}
    other_dirs = Counter(
        f.split("/", 1)[0] for f in repo.other_files if "/" in f and not f.startswith(".")
    )
    entries = [f"- `{f}`" for f in top_files]
    for directory, count in sorted(other_dirs.items()):
        note = "also holds Nix files" if directory in nix_dirs else "no Nix files"
        entries.append(f"- `{directory}/` ({count} other files; {note})")
    if not entries:
        return "\n".join([*lines, "Only Nix files."])
    hidden = len(entries) - MAX_ROOT_ENTRIES
    lines += entries[:MAX_ROOT_ENTRIES]
    return "\n".join(lines + ([f"- and {hidden} more"] if hidden > 0 else []))


def orphans_section(repo: Repository) -> str:
    lines = ["## Orphan modules", ""]
    loader = autoloader(repo)
    if loader is not None:
        return "\n".join([*lines, f"Not checked: the `{loader}` input loads modules by directory."])
    orphans = orphan_modules(repo)
    if not orphans:
        return "\n".join([*lines, "Every module is imported by a host or another module."])
    lines.append(
        "Imported by no file, host or scanned directory (dead code, or loaded another way):"
    )
    lines.append("")
    by_dir = Counter(posixpath.dirname(o) or "." for o in orphans)
    lines += [f"- `{o}`" for o in orphans]
    if len(by_dir) == 1 and len(orphans) > 1:
        lines += ["", f"All of them are in `{next(iter(by_dir))}/`."]
    return "\n".join(lines)
