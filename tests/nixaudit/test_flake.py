"""The flake's hosts (all three kinds, names resolved or kept as patterns) and pinned inputs."""

from __future__ import annotations

import json
from pathlib import Path

from securellm.nixaudit.flake import FlakeHost, flake_hosts, locked_inputs

FLAKE = b"""{
  outputs = { nixpkgs, darwin, home-manager, ... }:
    let
      username = "ada";
    in {
      nixosConfigurations = {
        atlas = nixpkgs.lib.nixosSystem { modules = [ ./hosts/atlas ]; };
        "${username}-vm" = nixpkgs.lib.nixosSystem { modules = [ ./hosts/vm.nix ]; };
      };
      darwinConfigurations.mac = darwin.lib.darwinSystem { modules = [ ./hosts/mac ]; };
      homeConfigurations."${username}@${host}" = home-manager.lib.homeManagerConfiguration {
        modules = [ ./home/ada.nix ];
      };
    };
}
"""


def _by_name(hosts: list[FlakeHost]) -> dict[str, FlakeHost]:
    return {h.name: h for h in hosts}


def test_hosts_of_all_three_kinds_are_found() -> None:
    kinds = {h.name: h.kind for h in flake_hosts(FLAKE)}
    assert kinds == {
        "atlas": "nixos",
        "ada-vm": "nixos",
        "mac": "darwin",
        "ada@${host}": "home",
    }


def test_a_name_interpolating_a_literal_is_resolved() -> None:
    assert _by_name(flake_hosts(FLAKE))["ada-vm"].pattern is False


def test_a_name_interpolating_anything_else_stays_a_pattern() -> None:
    assert _by_name(flake_hosts(FLAKE))["ada@${host}"].pattern is True


def test_each_host_keeps_the_modules_it_names() -> None:
    hosts = _by_name(flake_hosts(FLAKE))
    assert hosts["atlas"].modules == ("./hosts/atlas",)
    assert hosts["ada@${host}"].modules == ("./home/ada.nix",)


def test_flake_parts_flake_attribute_is_followed() -> None:
    source = b"{ outputs = i: { flake.nixosConfigurations.box = mk { modules = [ ./box ]; }; }; }"
    assert [(h.name, h.modules) for h in flake_hosts(source)] == [("box", ("./box",))]


def test_hosts_made_from_a_list_of_names_are_found() -> None:
    source = b'{ outputs = i: { nixosConfigurations = lib.genAttrs [ "a" "b" ] mkHost; }; }'
    assert [h.name for h in flake_hosts(source)] == ["a", "b"]


def test_generated_hosts_are_one_pattern() -> None:
    source = b"{ outputs = i: { nixosConfigurations = mapAttrs mkHost (readDir ./hosts); }; }"
    assert [(h.name, h.pattern) for h in flake_hosts(source)] == [("*", True)]


def test_locked_inputs_give_source_and_revision(tmp_path: Path) -> None:
    lock = {
        "nodes": {
            "nixpkgs": {
                "locked": {"type": "github", "owner": "NixOS", "repo": "nixpkgs", "rev": "abc123"}
            },
            "root": {"inputs": {"nixpkgs": "nixpkgs", "utils": ["nixpkgs", "utils"]}},
        },
        "root": "root",
        "version": 7,
    }
    (tmp_path / "flake.lock").write_text(json.dumps(lock))
    found = [(i.name, i.source, i.rev) for i in locked_inputs(tmp_path / "flake.lock")]
    assert found == [
        ("nixpkgs", "github:NixOS/nixpkgs", "abc123"),
        ("utils", "follows nixpkgs/utils", ""),
    ]


def test_a_broken_lock_file_gives_no_inputs(tmp_path: Path) -> None:
    (tmp_path / "flake.lock").write_text("{ not json")
    assert locked_inputs(tmp_path / "flake.lock") == []
