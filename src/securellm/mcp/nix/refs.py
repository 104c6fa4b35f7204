"""Flake refs confined to allowed roots: no local file reaches the Nix store unless it is ours.

Nix copies a local flake (``path:``, ``git+file:``, ``file:``, ``tarball+file:``, a bare
path) into the world-readable store before it reads ``flake.nix``, so a ref such as
``path:/etc/shadow`` would publish that file. A local ref is accepted only when the tree
Nix would copy resolves (symlinks followed, percent-escapes decoded) inside one of the
allowed roots and names a directory holding ``flake.nix`` (or, for ``file:`` and
``tarball+file:``, an archive). The ref handed to ``nix`` is rebuilt from the resolved path,
so Nix reads exactly what was checked. Remote refs pass unchanged; a registry name
(``nixpkgs``, ``flake:x``) is looked up in ``nix registry list`` and its targets checked
the same way, so a registry entry cannot smuggle a local path in.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from securellm.mcp.errors import InvalidInputError
from securellm.mcp.nix import validate

LOCAL_SCHEMES = ("path", "git+file", "file", "tarball+file")
REMOTE_SCHEMES = ("github", "gitlab", "sourcehut", "git+https", "git+ssh", "https", "tarball+https")
LOCAL_QUERY_KEYS = frozenset(
    {"dir", "ref", "rev", "narHash", "lastModified", "revCount", "shallow", "allRefs"}
)
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".zip")
MAX_REGISTRY_DEPTH = 3
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._~/+,@=-]*$")

RegistryLister = Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class LocalRef:
    """A local flake ref taken apart: scheme (``""`` for a bare path), path, query."""

    scheme: str
    path: str
    query: dict[str, str]
    raw_query: str


def _refuse(ref: str, why: str) -> InvalidInputError:
    return InvalidInputError(f"flake_ref {ref!r} refused: {why}")


def _decoded(ref: str, text: str) -> str:
    """``text`` percent-decoded; an escape that decodes to a control character is refused."""
    value = unquote(text)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise _refuse(ref, "a percent-escape decodes to a control character")
    return value


def scheme_of(ref: str) -> str | None:
    """``""`` for a bare path, the lower-cased scheme, or None for a registry name."""
    if ref.startswith(("/", "./")) or ref == ".":
        return ""
    head, sep, _ = ref.partition(":")
    return head.lower() if sep else None


def parse_query(ref: str, raw: str) -> dict[str, str]:
    """``a=1&b=2`` decoded; keys a local ref cannot use, and repeated keys, are refused."""
    query: dict[str, str] = {}
    for part in filter(None, raw.split("&")):
        key, _, value = part.partition("=")
        key, value = _decoded(ref, key), _decoded(ref, value)
        if key not in LOCAL_QUERY_KEYS:
            allowed = ", ".join(sorted(LOCAL_QUERY_KEYS))
            raise _refuse(ref, f"a local flake takes only these parameters: {allowed}")
        if key in query:
            raise _refuse(ref, f"parameter {key!r} is given twice")
        query[key] = value
    return query


def parse_local(ref: str, scheme: str) -> LocalRef:
    """Split a local ref; the path is percent-decoded the way Nix decodes it."""
    if scheme == "":
        path, _, raw = ref.partition("?")
        if "%" in path:
            raise _refuse(ref, "a bare path must not contain '%'; use path:/… instead")
        return LocalRef("", path, parse_query(ref, raw), raw)
    parts = urlsplit(ref)
    if parts.netloc:
        raise _refuse(ref, f"a {scheme}: ref names a local path, not a host ({parts.netloc!r})")
    return LocalRef(scheme, _decoded(ref, parts.path), parse_query(ref, parts.query), parts.query)


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def _resolve(ref: str, path: Path) -> Path:
    try:
        return path.resolve(strict=True)
    except FileNotFoundError:
        raise _refuse(ref, f"{path} does not exist") from None
    except (OSError, RuntimeError) as exc:
        raise _refuse(ref, f"{path} cannot be resolved ({type(exc).__name__})") from None


def git_top(directory: Path) -> Path | None:
    """The nearest directory at or above ``directory`` with a ``.git``, as Nix finds it."""
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


class FlakeRefs:
    """Checks flake refs against ``roots``; relative paths are relative to ``cwd``."""

    def __init__(self, roots: Sequence[Path], *, cwd: Path, list_registry: RegistryLister) -> None:
        self.roots = tuple(root.expanduser().resolve() for root in roots)
        self._cwd = cwd
        self._list_registry = list_registry

    async def check(self, value: str) -> str:
        """The ref to hand to ``nix``, or :class:`InvalidInputError` before anything runs."""
        return await self._check(validate.flake_ref(value), depth=0)

    async def _check(self, ref: str, depth: int) -> str:
        scheme = scheme_of(ref)
        if scheme in LOCAL_SCHEMES or scheme == "":
            assert scheme is not None
            return self.confine(ref, scheme)
        if scheme in REMOTE_SCHEMES:
            return ref
        if scheme is None or scheme == "flake":
            await self._check_indirect(ref, depth)
            return ref
        raise _refuse(ref, f"the {scheme}: scheme is not supported")

    def confine(self, ref: str, scheme: str) -> str:
        """A local ref rebuilt from its resolved path, when that path is inside the roots."""
        local = parse_local(ref, scheme)
        base = Path(local.path)
        tree = _resolve(ref, base if base.is_absolute() else self._cwd / base)
        self._require_inside(ref, tree, "it")
        if scheme in ("file", "tarball+file") and tree.is_file():
            if not tree.name.endswith(ARCHIVE_SUFFIXES):
                raise _refuse(ref, f"{tree} is neither a flake directory nor an archive")
            return self._rebuild(ref, scheme, tree, local.raw_query)
        self._require_flake_dir(ref, tree, local.query.get("dir"))
        if scheme in ("", "git+file"):
            self._require_git_inside(ref, tree)
        return self._rebuild(ref, scheme, tree, local.raw_query)

    def _require_inside(self, ref: str, path: Path, what: str) -> None:
        if not _inside(path, self.roots):
            roots = ", ".join(str(root) for root in self.roots) or "none configured"
            raise _refuse(
                ref,
                f"{what} resolves to {path}, outside the allowed roots ({roots}); "
                "set [mcp] nix_allowed_roots to allow more",
            )

    def _require_flake_dir(self, ref: str, tree: Path, subdir: str | None) -> None:
        flake_dir = tree
        if subdir:
            if subdir.startswith("/") or ".." in subdir.split("/"):
                raise _refuse(ref, "dir= must be a relative path without '..'")
            flake_dir = _resolve(ref, tree / subdir)
            self._require_inside(ref, flake_dir, "its dir=")
        if not (flake_dir / "flake.nix").is_file():
            raise _refuse(ref, f"{flake_dir} is not a directory containing flake.nix")

    def _require_git_inside(self, ref: str, tree: Path) -> None:
        """Nix copies the tracked files of the enclosing git repository: it must be ours too."""
        top = git_top(tree)
        if top is None:
            return
        self._require_inside(ref, top, "its git repository")
        dot_git = top / ".git"
        if dot_git.is_symlink():  # Nix reads the objects (any ?rev=) where it points
            self._require_inside(ref, _resolve(ref, dot_git), "its .git")
        if dot_git.is_file():
            try:
                pointer = dot_git.read_text(encoding="utf-8", errors="replace").strip()
            except OSError as exc:
                raise _refuse(ref, f"{dot_git} cannot be read ({exc.strerror})") from None
            if pointer.startswith("gitdir:"):
                target = _resolve(ref, top / pointer.removeprefix("gitdir:").strip())
                self._require_inside(ref, target, "its .git file")

    def _rebuild(self, ref: str, scheme: str, tree: Path, raw_query: str) -> str:
        text = str(tree)
        if not _SAFE_PATH.match(text):
            raise _refuse(ref, f"{text} has characters that Nix would read as URL syntax")
        query = f"?{raw_query}" if raw_query else ""
        if scheme == "":
            return text + query
        separator = ":" if scheme == "path" else "://"
        return f"{scheme}{separator}{text}{query}"

    async def _check_indirect(self, ref: str, depth: int) -> None:
        """Every registry entry for this name must itself be an acceptable ref."""
        name = ref.removeprefix("flake:").split("/", 1)[0].split("?", 1)[0]
        if not validate.FLAKE_ID.match(name):
            raise _refuse(ref, "not a registry name")
        if depth >= MAX_REGISTRY_DEPTH:
            raise _refuse(ref, "registry entries point to each other too deeply")
        for target in registry_targets(await self._list_registry(), name):
            try:
                await self._check(validate.flake_ref(target), depth + 1)
            except InvalidInputError as exc:
                raise _refuse(ref, f"the registry maps it to {target!r}: {exc}") from None


def registry_targets(listing: str, name: str) -> list[str]:
    """The targets of every ``nix registry list`` line whose source is ``flake:<name>``."""
    targets = []
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        source = fields[1].removeprefix("flake:").split("/", 1)[0].split("?", 1)[0]
        if source == name:
            targets.append(fields[2])
    return targets
