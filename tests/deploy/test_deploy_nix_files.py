"""Every .nix file of the repository parses, and the flake exposes the outputs of issue 9."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NIX_FILES = sorted(
    path
    for pattern in ("flake.nix", "nix/**/*.nix", "tests/deploy/**/*.nix")
    for path in REPO.glob(pattern)
)

# A stand-in for the nixpkgs flake: enough to list the output attribute names lazily.
STUB_NIXPKGS = """
  nixpkgs = {
    lib.genAttrs = names: f: builtins.listToAttrs
      (map (name: { inherit name; value = f name; }) names);
    legacyPackages = builtins.listToAttrs (map (name: { inherit name; value = {
      callPackage = _: _: { };
    }; }) [ "x86_64-linux" "aarch64-linux" ]);
  };
"""


def flake_attr_names(nix: Any, path: str) -> set[str]:
    expression = (
        f"let {STUB_NIXPKGS} flake = import ./flake.nix;"
        " self = flake.outputs { inherit self nixpkgs; };"
        f" in builtins.attrNames {path}"
    )
    return set(nix.expr(expression))


def test_the_repository_has_its_nix_files() -> None:
    names = {path.relative_to(REPO).as_posix() for path in NIX_FILES}
    assert {"flake.nix", "nix/module.nix", "nix/package.nix", "nix/lib.nix"} <= names


@pytest.mark.parametrize("path", NIX_FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_nix_file_parses(nix: Any, path: Path) -> None:
    argv = [nix.binary, "--parse", str(path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_flake_has_packages_devshells_module_and_checks(nix: Any) -> None:
    outputs = flake_attr_names(nix, "self")
    assert {"packages", "devShells", "nixosModules", "checks"} <= outputs


def test_flake_packages_are_the_app_and_the_image(nix: Any) -> None:
    assert {"default", "docker"} <= flake_attr_names(nix, 'self.packages."x86_64-linux"')


def test_flake_module_is_exported_as_default(nix: Any) -> None:
    assert "default" in flake_attr_names(nix, "self.nixosModules")


def pyproject_dependencies() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = [re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0] for spec in project["dependencies"]]
    return [name.lower().replace("_", "-") for name in names]


# pyproject name -> attribute in nixpkgs' python3Packages, where they differ
NIXPKGS_NAMES: dict[str, str] = {}


@pytest.mark.parametrize("name", pyproject_dependencies())
def test_nix_package_lists_every_runtime_dependency(name: str) -> None:
    package = (REPO / "nix" / "package.nix").read_text()
    attribute = NIXPKGS_NAMES.get(name, name)
    assert re.search(rf"^\s+{re.escape(attribute)}$", package, re.MULTILINE), (
        f"{name} is in pyproject.toml but not in nix/package.nix"
    )


def test_example_flake_defines_both_seed_machines_with_the_module(nix: Any) -> None:
    expression = """
      let
        flake = import ./nix/examples/flake.nix;
        module = { isTheSecurellmModule = true; };
        outputs = flake.outputs {
          nixpkgs.lib.nixosSystem = args: args;
          securellm.nixosModules.default = module;
          sops-nix.nixosModules.sops = { };
        };
      in builtins.mapAttrs (_: machine: {
        system = machine.system;
        withModule = builtins.elem module machine.modules;
      }) outputs.nixosConfigurations
    """
    machines = nix.expr(expression)
    assert machines == {
        "laptop": {"system": "x86_64-linux", "withModule": True},
        "desktop": {"system": "x86_64-linux", "withModule": True},
    }
