"""orphan-module: modules no import, host or scanned directory reaches (info)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.nixaudit.conftest import module
from tests.nixaudit.test_blueprint_sections import _repo

from securellm.nixaudit import audit_repository


def test_orphan_module_is_an_info_finding(tmp_path: Path) -> None:
    report = audit_repository(_repo(tmp_path), rules=["orphan-module"])
    assert [(f.file, f.severity.value) for f in report.findings] == [("modules/old.nix", "info")]


def test_a_module_named_by_a_root_relative_string_is_not_an_orphan(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "hosts/mac/default.nix").write_text(
        module('imports = map lib.relativeToRoot [ "modules/old.nix" ];')
    )
    assert audit_repository(root, rules=["orphan-module"]).findings == []


def test_modules_under_a_scanned_directory_are_not_orphans(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "hosts/mac/default.nix").write_text(module("imports = mapModules ./../../modules;"))
    assert audit_repository(root, rules=["orphan-module"]).findings == []


def test_a_module_named_under_an_interpolated_root_is_not_an_orphan(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "hosts/mac/default.nix").write_text(module('imports = [ "${self}/modules/old.nix" ];'))
    assert audit_repository(root, rules=["orphan-module"]).findings == []


def test_files_a_host_directory_loads_by_convention_are_not_orphans(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "machines/box").mkdir(parents=True)
    (root / "machines/box/disko.nix").write_text(module("disko.devices = { };"))
    found = [f.file for f in audit_repository(root, rules=["orphan-module"]).findings]
    assert found == ["modules/old.nix"]


def test_nothing_is_an_orphan_when_an_input_loads_modules_by_directory(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path)
    lock = {
        "nodes": {
            "nixos-unified": {
                "locked": {"type": "github", "owner": "srid", "repo": "nixos-unified"}
            },
            "root": {"inputs": {"nixos-unified": "nixos-unified"}},
        },
        "root": "root",
        "version": 7,
    }
    (root / "flake.lock").write_text(json.dumps(lock))
    assert audit_repository(root, rules=["orphan-module"]).findings == []


def test_files_a_module_collects_from_its_own_directory_are_not_orphans(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path)
    (root / "modules/news").mkdir()
    (root / "modules/news/default.nix").write_text(module("news = collect ./.;"))
    (root / "modules/news/2024-01.nix").write_text(module("message = 1;"))
    (root / "hosts/mac/default.nix").write_text(module("imports = [ ../../modules/news ];"))
    found = [f.file for f in audit_repository(root, rules=["orphan-module"]).findings]
    assert found == ["modules/old.nix"]
