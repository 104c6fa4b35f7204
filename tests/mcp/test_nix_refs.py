"""Local flake refs are confined to the allowed roots; nothing else reaches the Nix store."""

from __future__ import annotations

import json
import stat
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from securellm.mcp.errors import InvalidInputError
from securellm.mcp.nix.refs import FlakeRefs, registry_targets
from support.require import require_binary

FLAKE = "{ outputs = { self }: { lib.answer = 42; }; }\n"


def flake_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "flake.nix").write_text(FLAKE)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return flake_dir(tmp_path / "root")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    return flake_dir(tmp_path / "outside")


def policy(root: Path, listing: str = "") -> FlakeRefs:
    async def list_registry() -> str:
        return listing

    return FlakeRefs([root], cwd=root, list_registry=list_registry)


async def refused(root: Path, ref: str, listing: str = "") -> str:
    with pytest.raises(InvalidInputError) as caught:
        await policy(root, listing).check(ref)
    return str(caught.value)


async def test_a_bare_path_inside_the_roots_is_accepted(root: Path) -> None:
    assert await policy(root).check(str(root)) == str(root)


async def test_a_relative_path_resolves_against_the_working_directory(root: Path) -> None:
    flake_dir(root / "sub")
    assert await policy(root).check("./sub") == str(root / "sub")
    assert await policy(root).check(".") == str(root)


async def test_a_path_ref_is_rebuilt_from_the_resolved_path(root: Path) -> None:
    (root / "link").symlink_to(root)
    assert await policy(root).check(f"path:{root}/link") == f"path:{root}"


async def test_a_file_outside_the_roots_is_refused(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret")
    text = await refused(root, f"path:{secret}")
    assert "outside the allowed roots" in text


async def test_etc_shadow_is_refused(root: Path) -> None:
    assert "outside the allowed roots" in await refused(root, "path:/etc/shadow")


async def test_a_directory_without_flake_nix_is_refused(root: Path) -> None:
    (root / "plain").mkdir()
    assert "not a directory containing flake.nix" in await refused(root, f"path:{root}/plain")


async def test_a_missing_path_is_refused(root: Path) -> None:
    assert "does not exist" in await refused(root, f"{root}/nothing")


async def test_a_symlink_out_of_the_roots_is_refused(root: Path, outside: Path) -> None:
    (root / "escape").symlink_to(outside)
    assert str(outside) in await refused(root, f"{root}/escape")


async def test_percent_encoded_dots_cannot_climb_out(root: Path, outside: Path) -> None:
    text = await refused(root, f"path:{root}/%2e%2e/outside")
    assert "outside the allowed roots" in text


async def test_percent_escapes_are_decoded_before_the_check(root: Path) -> None:
    flake_dir(root / "flake")
    assert await policy(root).check(f"path:{root}/%66lake") == f"path:{root}/flake"


async def test_a_bare_path_with_a_percent_sign_is_refused(root: Path) -> None:
    assert "'%'" in await refused(root, f"{root}/%2e%2e")


async def test_dir_names_the_flake_inside_the_copied_tree(root: Path) -> None:
    (root / "flake.nix").unlink()
    flake_dir(root / "sub")
    assert await policy(root).check(f"path:{root}?dir=sub") == f"path:{root}?dir=sub"
    (root / "empty").mkdir()
    assert "flake.nix" in await refused(root, f"path:{root}?dir=empty")


async def test_dir_must_not_climb(root: Path) -> None:
    assert "dir=" in await refused(root, f"path:{root}?dir=%2e%2e/outside")


async def test_dir_through_a_symlink_out_is_refused(root: Path, outside: Path) -> None:
    (root / "escape").symlink_to(outside)
    assert "its dir=" in await refused(root, f"path:{root}?dir=escape")


async def test_the_copied_tree_must_be_inside_even_when_dir_points_back_in(root: Path) -> None:
    text = await refused(root, f"path:{root.parent}?dir=root")
    assert str(root.parent) in text


async def test_git_file_inside_the_roots_with_a_ref_is_accepted(root: Path) -> None:
    (root / ".git").mkdir()
    ref = f"git+file://{root}?ref=main"
    assert await policy(root).check(ref) == ref


async def test_git_file_outside_the_roots_is_refused(root: Path, outside: Path) -> None:
    (outside / ".git").mkdir()
    assert "outside the allowed roots" in await refused(root, f"git+file://{outside}?ref=main")


async def test_git_file_with_a_host_is_refused(root: Path) -> None:
    assert "not a host" in await refused(root, f"git+file://server{root}")


async def test_git_submodules_are_refused_on_local_refs(root: Path) -> None:
    (root / ".git").mkdir()
    assert "parameters" in await refused(root, f"git+file://{root}?submodules=1")


async def test_a_flake_in_a_git_repository_that_reaches_outside_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    inner = flake_dir(repo / "inner")
    text = await refused(inner, str(inner))
    assert "its git repository" in text


async def test_a_dot_git_file_pointing_outside_is_refused(root: Path, outside: Path) -> None:
    (root / ".git").write_text(f"gitdir: {outside}\n")
    assert "its .git file" in await refused(root, str(root))


async def test_a_dot_git_symlink_pointing_outside_is_refused(root: Path, outside: Path) -> None:
    # Nix reads a ?rev= from the objects .git leads to: another repository's files.
    (outside / ".git").mkdir()
    (root / ".git").symlink_to(outside / ".git")
    text = await refused(root, f"git+file://{root}?rev={'0' * 40}")
    assert "its .git resolves to" in text
    assert "its .git resolves to" in await refused(root, str(root))


@pytest.mark.parametrize("escaped", ["%00", "%0a", "%7f"])
async def test_an_escape_decoding_to_a_control_character_is_refused(
    root: Path, escaped: str
) -> None:
    assert "control character" in await refused(root, f"path:{root}/x{escaped}")
    assert "control character" in await refused(root, f"path:{root}?dir=sub{escaped}")


async def test_a_repeated_parameter_is_refused(root: Path) -> None:
    assert "twice" in await refused(root, f"path:{root}?dir=a&dir=b")


async def test_a_file_ref_to_an_archive_inside_the_roots_is_accepted(root: Path) -> None:
    (root / "src.tar.gz").write_bytes(b"\x1f\x8b")
    ref = f"tarball+file://{root}/src.tar.gz"
    assert await policy(root).check(ref) == ref


async def test_a_file_ref_to_a_plain_file_is_refused(root: Path) -> None:
    (root / ".env").write_text("TOKEN=x")
    assert "neither a flake directory nor an archive" in await refused(root, f"file://{root}/.env")


async def test_a_tarball_file_ref_outside_the_roots_is_refused(root: Path, tmp_path: Path) -> None:
    (tmp_path / "x.tar").write_bytes(b"")
    assert "outside" in await refused(root, f"tarball+file://{tmp_path}/x.tar")


@pytest.mark.parametrize(
    "ref",
    [
        "github:NixOS/nixpkgs",
        "github:owner/repo?dir=sub",
        "git+https://example.org/r.git?ref=main",
        "https://example.org/src.tar.gz",
        "tarball+https://example.org/src.tar.gz",
        "sourcehut:~user/repo",
    ],
)
async def test_remote_refs_pass_unchanged(root: Path, ref: str) -> None:
    assert await policy(root).check(ref) == ref


async def test_an_unsupported_scheme_is_refused(root: Path) -> None:
    with pytest.raises(InvalidInputError):
        await policy(root).check("hg+file:///x")


LISTING = """\
user   flake:evil path:/etc
system flake:hop flake:evil
global flake:nixpkgs github:NixOS/nixpkgs/nixpkgs-unstable
"""


async def test_a_registry_name_for_a_remote_flake_is_accepted(root: Path) -> None:
    assert await policy(root, LISTING).check("nixpkgs/nixos-24.05") == "nixpkgs/nixos-24.05"


async def test_a_registry_name_for_a_path_outside_the_roots_is_refused(root: Path) -> None:
    text = await refused(root, "flake:evil", LISTING)
    assert "path:/etc" in text


async def test_registry_names_are_followed_through_other_names(root: Path) -> None:
    assert "flake:evil" in await refused(root, "hop", LISTING)


async def test_a_registry_name_for_a_flake_inside_the_roots_is_accepted(root: Path) -> None:
    listing = f"user flake:mine path:{root}\n"
    assert await policy(root, listing).check("mine") == "mine"


async def test_an_unknown_registry_name_is_left_to_nix(root: Path) -> None:
    assert await policy(root, LISTING).check("unknown") == "unknown"


def test_registry_targets_match_the_name_with_or_without_a_ref() -> None:
    listing = "user flake:a/branch path:/x\nglobal flake:a github:o/a\nglobal flake:ab github:o/b\n"
    assert registry_targets(listing, "a") == ["path:/x", "github:o/a"]


def fake_nix(tmp_path: Path) -> tuple[Path, Path]:
    """A ``nix`` that leaves a marker when started; used with nix_isolation = "off" (inside
    bubblewrap tmp_path is read-only, so a start there would leave none)."""
    marker = tmp_path / "nix-was-run"
    script = tmp_path / "fake-nix"
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho '{{}}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, marker


@pytest.mark.parametrize(
    "tool",
    ["nix_flake_metadata", "nix_flake_show", "nix_flake_check", "nix_eval", "nix_build"],
)
async def test_every_flake_tool_refuses_etc_shadow_before_nix_starts(
    tmp_path: Path, make_harness: Any, tool: str
) -> None:
    script, marker = fake_nix(tmp_path)
    arguments: dict[str, Any] = {"flake_ref": "path:/etc/shadow"}
    if tool in ("nix_eval", "nix_build"):
        arguments["attr"] = "packages.x86_64-linux.default"
    async with make_harness(nix_binary=str(script), nix_isolation="off") as h:
        text = await h.error(tool, **arguments)
    assert "outside the allowed roots" in text
    assert not marker.exists()


async def test_nix_search_refuses_a_local_flake_outside_the_roots(
    tmp_path: Path, make_harness: Any
) -> None:
    script, marker = fake_nix(tmp_path)
    async with make_harness(nix_binary=str(script), nix_isolation="off") as h:
        text = await h.error("nix_search", query="hello", flake_ref="/etc")
    assert "outside the allowed roots" in text
    assert not marker.exists()


async def test_a_real_registry_entry_to_a_local_path_is_refused(
    tmp_path: Path, make_harness: Any
) -> None:
    require_binary("nix")
    require_binary("bwrap")  # the Nix tools evaluate inside bubblewrap
    registry = tmp_path / "registry.json"
    entry = {"from": {"type": "indirect", "id": "evil"}, "to": {"type": "path", "path": "/etc"}}
    registry.write_text(json.dumps({"flakes": [entry], "version": 2}))
    options = ["--option", "substituters", "", "--option", "flake-registry", str(registry)]
    async with make_harness(nix_extra_options=options) as h:
        text = await h.error("nix_flake_metadata", flake_ref="evil")
    assert "the registry maps it to 'path:/etc'" in text


async def test_concurrent_registry_names_share_one_registry_listing(
    tmp_path: Path, make_harness: Any
) -> None:
    calls = tmp_path / "registry-calls"
    script = tmp_path / "fake-nix"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f'  *"registry list"*) echo call >> {calls}; sleep 0.2; '
        'echo "global flake:nixpkgs github:NixOS/nixpkgs/nixpkgs-unstable" ;;\n'
        "  *) echo '{}' ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    # "off": the fake counts its calls in tmp_path, which the bubblewrap view shows read-only.
    harness = make_harness(nix_binary=str(script), nix_isolation="off")
    async with harness as h, anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(partial(h.call, "nix_flake_metadata", flake_ref="nixpkgs"))
    assert calls.read_text().splitlines() == ["call"]
