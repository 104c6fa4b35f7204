"""Input validation for the Nix tools: hostile values are refused before any process runs."""

from __future__ import annotations

import pytest

from securellm.mcp.errors import InvalidInputError
from securellm.mcp.nix import validate


@pytest.mark.parametrize(
    "ref",
    [
        ".",
        "./sub",
        "/abs/flake",
        "path:/abs/flake",
        "github:NixOS/nixpkgs",
        "nixpkgs",
        "github:owner/repo/v1.2",
        "git+https://example.org/r.git?ref=main",
        "path:/p?dir=sub",
        "git+https://example.org/r.git?ref=main&dir=sub",
        "tarball+file:///p/src.tar.gz",
    ],
)
def test_valid_flake_refs_are_accepted(ref: str) -> None:
    assert validate.flake_ref(ref) == ref


@pytest.mark.parametrize(
    "ref",
    [
        "; rm -rf /",
        ".; id",
        "$(id)",
        "`id`",
        "a|b",
        "a&&b",
        "path:/p&x?dir=a",
        "path:/p?dir=a?b",
        "x > /etc/passwd",
        "--option substituters evil",
        "-L",
        "../../etc",
        "/tmp/../etc",
        "path:../up",
        "nixpkgs#hello",
        "a b",
        "x\nid",
        "x\x00y",
        "'quoted'",
        '"quoted"',
        "ftp://host/x",
        "x" * 600,
        "",
        "\u202e.",
        "{a,b}",
    ],
)
def test_hostile_flake_refs_are_refused(ref: str) -> None:
    with pytest.raises(InvalidInputError):
        validate.flake_ref(ref)


@pytest.mark.parametrize("attr", ["hello", "packages.x86_64-linux.hello", "lib.answer", "a_b'"])
def test_valid_attribute_paths_are_accepted(attr: str) -> None:
    assert validate.attr_path(attr) == attr


@pytest.mark.parametrize(
    "attr",
    ["", "a..b", ".a", "a.", "-a", "a;b", "a b", "${x}", 'a."b"', "a/b", "x" * 300, "a\tb"],
)
def test_hostile_attribute_paths_are_refused(attr: str) -> None:
    with pytest.raises(InvalidInputError):
        validate.attr_path(attr)


@pytest.mark.parametrize("name", ["ripgrep", "python3.11", "gcc-unwrapped", "g++"])
def test_package_names_are_accepted(name: str) -> None:
    assert validate.package_name(name) == name


@pytest.mark.parametrize("name", ["", "-rf", "a;b", ".*", "a b", "$(x)", "x" * 101])
def test_hostile_package_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInputError):
        validate.package_name(name)
