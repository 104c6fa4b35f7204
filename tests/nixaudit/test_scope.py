"""Entry points and the files each evaluates: flake hosts, hosts/* dirs, import closure."""

from __future__ import annotations

from pathlib import Path

from tests.nixaudit.conftest import module

from securellm.nixaudit import scope
from securellm.nixaudit.repo import load_repository

FLAKE_A = "{ outputs = i: { nixosConfigurations.a = mk { modules = [ ./hosts/a ]; }; }; }"


def _repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _scopes(root: Path) -> dict[str, tuple[str, list[str]]]:
    repo = load_repository(root)
    return {s.name: (s.kind, sorted(s.files)) for s in scope.scopes(repo)}


def test_flake_host_reaches_what_its_modules_import(tmp_path: Path) -> None:
    _repo(
        tmp_path,
        {
            "flake.nix": FLAKE_A,
            "hosts/a/default.nix": module("imports = [ ../../modules/x.nix ];"),
            "modules/x.nix": module("imports = [ ./y.nix ];"),
            "modules/y.nix": module(""),
            "modules/unused.nix": module(""),
        },
    )
    assert _scopes(tmp_path) == {
        "a": ("nixos", ["hosts/a/default.nix", "modules/x.nix", "modules/y.nix"])
    }


def test_imports_inside_lib_flatten_and_optionals_are_followed(tmp_path: Path) -> None:
    _repo(
        tmp_path,
        {
            "hosts/a/default.nix": module(
                "imports = lib.flatten [ ./hw.nix (lib.optionals c [ ./gpu.nix ]) ];"
            ),
            "hosts/a/hw.nix": module(""),
            "hosts/a/gpu.nix": module(""),
        },
    )
    assert _scopes(tmp_path)["a"][1] == [
        "hosts/a/default.nix",
        "hosts/a/gpu.nix",
        "hosts/a/hw.nix",
    ]


def test_a_directory_handed_to_a_function_is_not_an_import(tmp_path: Path) -> None:
    _repo(tmp_path, {"hosts/a/default.nix": module("imports = mapModules ./nowhere import;")})
    repo = load_repository(tmp_path)
    assert repo.files["hosts/a/default.nix"].imports == []


def test_a_flake_host_found_by_name_when_it_names_no_path(tmp_path: Path) -> None:
    _repo(
        tmp_path,
        {
            "flake.nix": '{ outputs = i: { nixosConfigurations.box = mkHost "box"; }; }',
            "machines/box.nix": module(""),
        },
    )
    assert _scopes(tmp_path) == {"box": ("nixos", ["machines/box.nix"])}


def test_without_a_flake_each_hosts_directory_is_an_entry(tmp_path: Path) -> None:
    _repo(
        tmp_path,
        {"hosts/a/configuration.nix": module(""), "hosts/b/configuration.nix": module("")},
    )
    assert set(_scopes(tmp_path)) == {"a", "b"}


def test_no_entry_point_at_all_compares_everything_together(tmp_path: Path) -> None:
    _repo(tmp_path, {"a.nix": module("x = 1;"), "b.nix": module("x = 2;")})
    repo = load_repository(tmp_path)
    groups = repo.co_evaluated(repo.definitions("x"))
    assert [sorted(a.file for a in g) for g in groups] == [["a.nix", "b.nix"]]


def test_without_hosts_each_import_root_is_its_own_evaluation(tmp_path: Path) -> None:
    _repo(
        tmp_path,
        {
            "tests/one.nix": module("imports = [ ./common.nix ]; x = 1;"),
            "tests/two.nix": module("imports = [ ./common.nix ]; x = 2;"),
            "tests/common.nix": module(""),
        },
    )
    repo = load_repository(tmp_path)
    groups = repo.co_evaluated(repo.definitions("x"))
    assert groups == []


def test_without_hosts_modules_one_root_imports_are_compared(tmp_path: Path) -> None:
    _repo(
        tmp_path,
        {
            "default.nix": module("imports = [ ./a.nix ./b.nix ];"),
            "a.nix": module("x = 1;"),
            "b.nix": module("x = 2;"),
            "unrelated.nix": module("x = 3;"),
        },
    )
    repo = load_repository(tmp_path)
    groups = repo.co_evaluated(repo.definitions("x"))
    assert [sorted(a.file for a in g) for g in groups] == [["a.nix", "b.nix"]]


def test_home_manager_imports_are_their_own_evaluation(tmp_path: Path) -> None:
    _repo(
        tmp_path,
        {
            "flake.nix": FLAKE_A,
            "hosts/a/default.nix": module(
                "imports = [ ./nixos.nix ];\nhome-manager.users.me.imports = [ ./home.nix ];"
            ),
            "hosts/a/nixos.nix": module("programs.git.enable = true;"),
            "hosts/a/home.nix": module("programs.git.enable = false;"),
        },
    )
    found = _scopes(tmp_path)
    assert found["a"] == ("nixos", ["hosts/a/default.nix", "hosts/a/nixos.nix"])
    assert found["home-manager.users.me"] == ("nested", ["hosts/a/home.nix"])


def test_a_root_relative_string_is_followed_like_an_import(tmp_path: Path) -> None:
    _repo(
        tmp_path,
        {
            "flake.nix": FLAKE_A,
            "hosts/a/default.nix": module(
                'imports = map lib.relativeToRoot [ "hosts/common/core" ];'
            ),
            "hosts/common/core/default.nix": module(""),
        },
    )
    assert _scopes(tmp_path)["a"][1] == ["hosts/a/default.nix", "hosts/common/core/default.nix"]
