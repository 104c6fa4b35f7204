"""Blueprint sections: flake hosts, pinned inputs, root files, purposes, orphan modules."""

from __future__ import annotations

import json
from pathlib import Path

from tests.nixaudit.conftest import module

from securellm.nixaudit import generate_blueprint

FLAKE = """{
  description = "two machines";
  outputs = { nixpkgs, darwin, hm, ... }:
    let user = "ada"; in {
      nixosConfigurations.vm = nixpkgs.lib.nixosSystem { modules = [ ./hosts/vm ]; };
      darwinConfigurations.mac = darwin.lib.darwinSystem { modules = [ ./hosts/mac ]; };
      homeConfigurations."${user}@${host}" = hm.lib.homeManagerConfiguration {
        modules = [ ./home.nix ];
      };
    };
}
"""
LOCK = {
    "nodes": {
        "nixpkgs": {
            "locked": {"type": "github", "owner": "NixOS", "repo": "nixpkgs", "rev": "0f1e"}
        },
        "root": {"inputs": {"nixpkgs": "nixpkgs"}},
    },
    "root": "root",
    "version": 7,
}


def _repo(root: Path) -> Path:
    files = {
        "flake.nix": FLAKE,
        "flake.lock": json.dumps(LOCK),
        "README.md": "# dots\n",
        "scripts/deploy.sh": "#!/bin/sh\n",
        "hosts/vm/default.nix": "# The test VM\n" + module("imports = [ ../../modules/a.nix ];"),
        "hosts/mac/default.nix": module("x = 1;"),
        "modules/a.nix": module("# a comment inside the body is not a purpose\ny = 1;"),
        "modules/old.nix": "# Left over from the laptop\n" + module("z = 1;"),
        "home.nix": module(""),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_hosts_of_every_kind_are_listed_with_their_entry(tmp_path: Path) -> None:
    text = generate_blueprint(_repo(tmp_path))
    assert "  - vm (NixOS, flake.nix:5; hosts/vm/default.nix)" in text
    assert "  - mac (nix-darwin, flake.nix:6; hosts/mac/default.nix)" in text


def test_an_unresolved_host_name_is_shown_as_a_pattern(tmp_path: Path) -> None:
    assert "  - `ada@${host}` (pattern) (home-manager" in generate_blueprint(_repo(tmp_path))


def test_inputs_are_listed_with_the_pinned_revision(tmp_path: Path) -> None:
    assert "| `nixpkgs` | github:NixOS/nixpkgs | `0f1e` |" in generate_blueprint(_repo(tmp_path))


def test_non_nix_files_at_the_root_are_listed(tmp_path: Path) -> None:
    text = generate_blueprint(_repo(tmp_path))
    assert "- `README.md`" in text
    assert "- `scripts/` (1 other files; no Nix files)" in text


def test_purpose_comes_only_from_the_leading_comment(tmp_path: Path) -> None:
    text = generate_blueprint(_repo(tmp_path))
    assert "default.nix  # The test VM" in text
    assert "a comment inside the body" not in text


def test_orphan_modules_have_a_section(tmp_path: Path) -> None:
    text = generate_blueprint(_repo(tmp_path))
    orphans = text.split("## Orphan modules", 1)[1].split("##", 1)[0]
    assert "- `modules/old.nix`" in orphans
    assert "modules/a.nix" not in orphans
