"""orphan-module: modules no import, host or scanned directory reaches (info)."""

from __future__ import annotations

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
