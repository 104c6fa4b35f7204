"""`securellm nix audit|blueprint|rules` through the real CLI app."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from securellm.cli.main import app

FIXTURES = Path(__file__).parents[1] / "nixaudit" / "fixtures"
runner = CliRunner()


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("cli") / "seed_repo"
    shutil.copytree(FIXTURES / "seed_repo", target)
    return target


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("cli") / "clean_repo"
    shutil.copytree(FIXTURES / "clean_repo", target)
    return target


def test_audit_exits_1_when_a_finding_reaches_high(seed: Path) -> None:
    assert runner.invoke(app, ["nix", "audit", str(seed)]).exit_code == 1


def test_audit_exits_0_on_the_clean_twin(clean: Path) -> None:
    result = runner.invoke(app, ["nix", "audit", str(clean)])
    assert (result.exit_code, result.stdout) == (0, "17 Nix files scanned: no findings\n")


def test_fail_on_critical_ignores_high_findings(seed: Path) -> None:
    assert runner.invoke(app, ["nix", "audit", str(seed), "--fail-on", "critical"]).exit_code == 0


def test_fail_on_never_always_exits_0(seed: Path) -> None:
    assert runner.invoke(app, ["nix", "audit", str(seed), "--fail-on", "never"]).exit_code == 0


def test_json_output_has_the_report_shape(seed: Path) -> None:
    result = runner.invoke(app, ["nix", "audit", str(seed), "--format", "json"])
    data = json.loads(result.stdout)
    assert set(data) == {
        "path",
        "files_scanned",
        "findings",
        "summary",
        "skipped_rules",
        "suppressed",
    }


def test_sarif_output_is_a_sarif_log(seed: Path) -> None:
    result = runner.invoke(app, ["nix", "audit", str(seed), "--format", "sarif"])
    assert json.loads(result.stdout)["version"] == "2.1.0"


def test_rule_option_selects_rules(seed: Path) -> None:
    result = runner.invoke(
        app,
        [
            "nix",
            "audit",
            str(seed),
            "-f",
            "json",
            "--rule",
            "ssh-root-login",
            "--rule",
            "parse-error",
        ],
    )
    assert {f["rule_id"] for f in json.loads(result.stdout)["findings"]} == {
        "ssh-root-login",
        "parse-error",
    }


def test_min_severity_filters_output(seed: Path) -> None:
    result = runner.invoke(app, ["nix", "audit", str(seed), "-f", "json", "--min-severity", "high"])
    assert {f["severity"] for f in json.loads(result.stdout)["findings"]} == {"high"}


def test_missing_path_exits_2_with_a_message(tmp_path: Path) -> None:
    result = runner.invoke(app, ["nix", "audit", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "not a directory or a file" in " ".join(result.stderr.split())


def test_unknown_rule_exits_2(seed: Path) -> None:
    assert runner.invoke(app, ["nix", "audit", str(seed), "--rule", "nope"]).exit_code == 2


def test_bad_severity_exits_2(seed: Path) -> None:
    assert runner.invoke(app, ["nix", "audit", str(seed), "--fail-on", "urgent"]).exit_code == 2


def test_bad_format_exits_2(seed: Path) -> None:
    assert runner.invoke(app, ["nix", "audit", str(seed), "--format", "xml"]).exit_code == 2


def test_blueprint_prints_markdown(clean: Path) -> None:
    result = runner.invoke(app, ["nix", "blueprint", str(clean)])
    assert result.stdout.startswith("# NixOS Repository Architecture Blueprint\n")


def test_blueprint_output_keeps_manual_notes(clean: Path, tmp_path: Path) -> None:
    target = tmp_path / "BLUEPRINT.md"
    assert runner.invoke(app, ["nix", "blueprint", str(clean), "-o", str(target)]).exit_code == 0
    target.write_text(
        target.read_text().replace(
            "<!-- manual:session-notes -->\n", "<!-- manual:session-notes -->\nSession 3: ok\n"
        )
    )
    runner.invoke(app, ["nix", "blueprint", str(clean), "-o", str(target)])
    assert "Session 3: ok\n<!-- /manual:session-notes -->" in target.read_text()


def test_blueprint_of_a_missing_path_leaves_the_output_untouched(tmp_path: Path) -> None:
    target = tmp_path / "BLUEPRINT.md"
    target.write_text("notes")
    result = runner.invoke(app, ["nix", "blueprint", str(tmp_path / "nope"), "-o", str(target)])
    assert (result.exit_code, target.read_text()) == (2, "notes")


def test_rules_lists_every_rule() -> None:
    result = runner.invoke(app, ["nix", "rules"])
    assert "clamav-updater-frequency" in result.stdout
    assert result.exit_code == 0


def test_audit_of_files_runs_per_file_rules_and_names_the_skipped(seed: Path) -> None:
    broken = seed / "modules" / "debug" / "broken.nix"
    result = runner.invoke(app, ["nix", "audit", str(broken)])
    assert result.exit_code == 1
    assert "[parse-error]" in result.stdout
    assert "skipped, need the whole repository:" in result.stdout


def test_audit_of_a_directory_and_a_file_together_is_refused(seed: Path) -> None:
    result = runner.invoke(app, ["nix", "audit", str(seed), str(seed / "flake.nix")])
    assert result.exit_code == 2


def test_write_baseline_then_baseline_reports_nothing_old(seed: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    wrote = runner.invoke(app, ["nix", "audit", str(seed), "--write-baseline", str(baseline)])
    assert wrote.exit_code == 0
    again = runner.invoke(app, ["nix", "audit", str(seed), "--baseline", str(baseline)])
    assert again.exit_code == 0
    assert "no findings" in again.stdout


def test_malformed_config_exits_2(tmp_path: Path) -> None:
    (tmp_path / "m.nix").write_text("{ }\n")
    (tmp_path / ".securellm-nix.toml").write_text("disable = [\n")
    assert runner.invoke(app, ["nix", "audit", str(tmp_path)]).exit_code == 2


def _pre_commit_hook() -> dict[str, Any]:
    hooks = yaml.safe_load((Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text())
    [hook] = [h for h in hooks if h["id"] == "securellm-nix-audit"]
    return dict(hook)


def test_pre_commit_hook_entry_is_the_nix_audit_command() -> None:
    hook = _pre_commit_hook()
    assert hook["entry"].split() == ["securellm", "nix", "audit"]
    assert (hook["language"], hook["types"]) == ("python", ["nix"])


def test_pre_commit_hook_blocks_a_commit_with_a_broken_file(tmp_path: Path) -> None:
    hook = _pre_commit_hook()
    (tmp_path / "ok.nix").write_text("{ lib, pkgs, }: { }\n")
    (tmp_path / "bad.nix").write_text("{ a = 1 }\n")
    files = [str(tmp_path / "ok.nix"), str(tmp_path / "bad.nix")]
    result = runner.invoke(app, hook["entry"].split()[1:] + hook["args"] + files)
    assert result.exit_code == 1
    assert "bad.nix:1: high [parse-error]" in result.stdout


def test_pre_commit_hook_passes_valid_files(tmp_path: Path) -> None:
    hook = _pre_commit_hook()
    (tmp_path / "ok.nix").write_text("{ lib, pkgs, }: { }\n")
    result = runner.invoke(
        app, [*hook["entry"].split()[1:], *hook["args"], str(tmp_path / "ok.nix")]
    )
    assert result.exit_code == 0


def test_write_baseline_records_every_finding_even_with_a_baseline(
    seed: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    runner.invoke(app, ["nix", "audit", str(seed), "--write-baseline", str(first)])
    args = ["--baseline", str(first), "--write-baseline", str(second)]
    runner.invoke(app, ["nix", "audit", str(seed), *args])
    assert json.loads(second.read_text()) == json.loads(first.read_text())
