"""Refuse anything that is not plainly a flake ref, an attribute path or a package name.

Nothing here is ever passed to a shell (we have none), but these checks also keep option
injection (a leading ``-``), path traversal and control characters away from ``nix``. This is
syntax only: where a local flake ref may point is decided by :mod:`securellm.mcp.nix.refs`.
"""

from __future__ import annotations

import re

from securellm.mcp.errors import InvalidInputError

MAX_REF = 512
MAX_ATTR = 256
MAX_NAME = 100

_SCHEMES = (
    "path:",
    "github:",
    "gitlab:",
    "sourcehut:",
    "git+https:",
    "git+ssh:",
    "git+file:",
    "https:",
    "tarball+https:",
    "file:",
    "tarball+file:",
    "flake:",
)
# '&' only separates query parameters (``?ref=main&dir=sub``), never in the part before '?'.
_REF_CHARS = re.compile(r"^[A-Za-z0-9._~:/=@%+,-]+(\?[A-Za-z0-9._~:/=@%+,&-]*)?$")
FLAKE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_INDIRECT = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*(/[A-Za-z0-9._-]+){0,2}$")
_ATTR_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_'+-]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def _printable(value: str, what: str, limit: int) -> None:
    if not value:
        raise InvalidInputError(f"{what} must not be empty")
    if len(value) > limit:
        raise InvalidInputError(f"{what} is longer than {limit} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidInputError(f"{what} contains control characters")
    if value.startswith("-"):
        raise InvalidInputError(f"{what} must not start with '-'")


def flake_ref(value: str) -> str:
    """A local path (``.``, ``./x``, ``/abs``), a URL-like ref, or an indirect ref (``nixpkgs``)."""
    _printable(value, "flake_ref", MAX_REF)
    if not _REF_CHARS.match(value):
        raise InvalidInputError(
            "flake_ref contains characters that are not allowed (shell metacharacters, spaces, "
            "quotes, '#'); pass the attribute separately"
        )
    path_part = value.split("?", 1)[0]
    if ".." in re.split(r"[/:]", path_part):
        raise InvalidInputError("flake_ref must not contain '..' path segments")
    if value.startswith(("/", "./")) or value == ".":
        return value
    if value.startswith(_SCHEMES) or _INDIRECT.match(value):
        return value
    raise InvalidInputError(
        "flake_ref must be a path (/abs, ./rel, .), "
        "a flake URL (github:o/r, path:/p, git+https://…) "
        "or a registry name (nixpkgs)"
    )


def attr_path(value: str) -> str:
    """``packages.x86_64-linux.hello``: dot-separated plain identifiers."""
    _printable(value, "attr", MAX_ATTR)
    segments = value.split(".")
    if not all(_ATTR_SEGMENT.match(segment) for segment in segments):
        raise InvalidInputError(
            "attr must be a dot-separated attribute path "
            "of letters, digits, '_', '-', \"'\" and '+'"
        )
    return value


def package_name(value: str) -> str:
    """A package name or search term: ``ripgrep``, ``python3.11``, ``gcc-unwrapped``."""
    _printable(value, "query", MAX_NAME)
    if not _NAME.match(value):
        raise InvalidInputError("query must be a package name: letters, digits and . _ + -")
    return value


def search_words(value: str) -> str:
    """Free words for a local index search (never passed to ``nix``): printable, bounded."""
    if not value.strip():
        raise InvalidInputError("query must not be empty")
    if len(value) > MAX_NAME:
        raise InvalidInputError(f"query is longer than {MAX_NAME} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidInputError("query contains control characters")
    return value
