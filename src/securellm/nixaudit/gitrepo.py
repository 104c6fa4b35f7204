"""Ask git what it ignores, so a subdirectory of a repository honours its parents' rules.

``git check-ignore --no-index`` applies every ``.gitignore`` from the top of the work tree
down, ``.git/info/exclude`` and the user's excludes file, exactly as git does; tracked files
that a pattern matches count as ignored too (the question is whether the rules cover them).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

GIT_TIMEOUT_S = 30.0


def git_toplevel(path: Path) -> Path | None:
    """The top of the git work tree holding directory ``path``; None outside one or no git."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run(
            [git, "-C", str(path), "rev-parse", "--show-toplevel"],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return Path(result.stdout.decode("utf-8", "replace").strip())


class GitIgnored:
    """Answers ``is_ignored`` for paths relative to ``root``, asking git once per batch."""

    def __init__(self, git: str, root: Path) -> None:
        self.git = git
        self.root = root
        self.known: dict[str, bool] = {}

    def prefetch(self, rels: Iterable[str]) -> None:
        """Ask git about every path in ``rels`` (directories end with ``/``) in one call."""
        todo = [r for r in dict.fromkeys(rels) if r not in self.known]
        if not todo:
            return
        ignored = self._ask(todo)
        for rel in todo:
            self.known[rel] = rel in ignored

    def is_ignored(self, rel: str, *, is_dir: bool = False) -> bool:
        key = rel + "/" if is_dir else rel
        if key not in self.known:
            self.prefetch([key])
        return self.known.get(key, False)

    def _ask(self, rels: list[str]) -> set[str]:
        stdin = b"".join(r.encode("utf-8", "surrogateescape") + b"\0" for r in rels)
        try:
            result = subprocess.run(
                [self.git, "-C", str(self.root), "check-ignore", "--no-index", "--stdin", "-z"],
                input=stdin,
                capture_output=True,
                timeout=GIT_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return set()
        out = result.stdout.decode("utf-8", "surrogateescape")
        return {p for p in out.split("\0") if p}


def git_ignored(root: Path) -> GitIgnored | None:
    """A GitIgnored for ``root`` when it lies in a git work tree and git is installed."""
    git = shutil.which("git")
    if git is None or git_toplevel(root) is None:
        return None
    return GitIgnored(git, root)
