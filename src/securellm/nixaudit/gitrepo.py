"""Ask git what it ignores, so a subdirectory of a repository honours its parents' rules.

``git check-ignore --no-index`` applies every ``.gitignore`` from the top of the work tree
down, ``.git/info/exclude`` and the user's excludes file, exactly as git does; tracked files
that a pattern matches count as ignored too (the question is whether the rules cover them).
The audited repository may be untrusted: git runs with its fsmonitor hook off, no pager,
and only commands that read (no checkout, so no filters or hooks).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

GIT_TIMEOUT_S = 30.0
_SAFE = ("-c", "core.fsmonitor=false", "--no-pager")


def _git(git: str, root: Path, *args: str, stdin: bytes = b"") -> bytes | None:
    """stdout of ``git -C root ARGS``; None when it fails, times out or cannot start."""
    try:
        result = subprocess.run(
            [git, *_SAFE, "-C", str(root), *args],
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    # check-ignore exits 1 when nothing is ignored: stdout is then simply empty.
    return result.stdout if result.returncode in (0, 1) else None


def git_toplevel(path: Path) -> Path | None:
    """The top of the git work tree holding directory ``path``; None outside one or no git."""
    git = shutil.which("git")
    out = _git(git, path, "rev-parse", "--show-toplevel") if git else None
    text = out.decode("utf-8", "replace").strip() if out else ""
    return Path(text) if text else None


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
        stdin = b"".join(r.encode("utf-8", "surrogateescape") + b"\0" for r in todo)
        out = _git(self.git, self.root, "check-ignore", "--no-index", "--stdin", "-z", stdin=stdin)
        ignored = set((out or b"").decode("utf-8", "surrogateescape").split("\0"))
        for rel in todo:
            self.known[rel] = rel in ignored

    def is_ignored(self, rel: str, *, is_dir: bool = False) -> bool:
        key = rel + "/" if is_dir else rel
        if key not in self.known:
            self.prefetch([key])
        return self.known.get(key, False)


def git_ignored(root: Path) -> GitIgnored | None:
    """A GitIgnored for ``root`` when it lies in a git work tree and git is installed."""
    git = shutil.which("git")
    if git is None or git_toplevel(root) is None:
        return None
    return GitIgnored(git, root)
