"""The plain systemd files of deploy/systemd/: valid, hardened, and in step with the module."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.require import missing, require_binary

UNITS = ["securellm-gateway.service", "securellm-offload.service", "securellm-mcp.service"]
PLACEHOLDER = "ExecStart=/usr/local/bin/securellm "
EXPOSURE = re.compile(r"Overall exposure level for \S+: (\d+\.\d+) (\S+)")
OK_OR_BETTER = 4.9  # systemd-analyze's "OK" band ends at 4.9; "MEDIUM" starts at 5.0
GOOD_RATINGS = {"PERFECT", "SAFE", "OK"}


def runnable_copy(units_dir: Path, name: str, tmp_path: Path, securellm: Path) -> Path:
    """The unit with ExecStart pointed at the venv's securellm (verify wants a real binary)."""
    text = (units_dir / name).read_text()
    assert PLACEHOLDER in text
    copy = tmp_path / name
    copy.write_text(text.replace(PLACEHOLDER, f"ExecStart={securellm} "))
    return copy


@pytest.mark.parametrize("name", UNITS)
def test_unit_passes_systemd_analyze_verify(
    units_dir: Path, tmp_path: Path, securellm: Path, name: str
) -> None:
    analyze = require_binary("systemd-analyze")
    unit = runnable_copy(units_dir, name, tmp_path, securellm)
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert name not in done.stderr, done.stderr


@pytest.mark.parametrize("name", UNITS)
def test_unit_exposure_is_rated_ok_or_better(
    units_dir: Path, tmp_path: Path, securellm: Path, name: str
) -> None:
    analyze = require_binary("systemd-analyze")
    unit = runnable_copy(units_dir, name, tmp_path, securellm)
    argv = [analyze, "security", "--offline=true", "--no-pager", str(unit)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    found = EXPOSURE.search(done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= OK_OR_BETTER, found.group(0)
    assert found.group(2) in GOOD_RATINGS, found.group(0)


@pytest.mark.parametrize("name", UNITS)
def test_unit_binds_loopback_and_runs_unprivileged(units_dir: Path, name: str) -> None:
    text = (units_dir / name).read_text()
    assert "0.0.0.0" not in text
    assert "CapabilityBoundingSet=\n" in text
    assert re.search(r"^(DynamicUser=yes|User=securellm-\w+)$", text, re.MULTILINE)


def test_deploy_systemd_files_are_the_packaged_files(repo: Path, units_dir: Path) -> None:
    linked = sorted((repo / "deploy" / "systemd").iterdir())
    assert [p.name for p in linked] == sorted(
        [*UNITS, "sysusers.conf", "tmpfiles.conf", "50-securellm-offload.rules"]
    )
    for path in linked:
        assert path.resolve() == (units_dir / path.name).resolve()


def test_plain_tmpfiles_rules_are_the_module_rules(nix: Any, units_dir: Path) -> None:
    expected = nix.expr(
        'lib.modelsTmpfiles { modelsRoot = "/var/lib/ml-models"; modelsGroup = "ml-models"; }'
        ' ++ lib.knowledgeTmpfiles { knowledgeDir = "/var/lib/mcp-knowledge";'
        ' mcpUser = "securellm-mcp"; sharedGroup = "mcp-shared"; }'
    )
    lines = (units_dir / "tmpfiles.conf").read_text().splitlines()
    assert [line for line in lines if line and not line.startswith("#")] == expected


def test_plain_polkit_rule_is_the_module_rule_for_the_default_gpu_units(
    nix: Any, units_dir: Path
) -> None:
    expected = nix.expr(
        'lib.polkitRule { user = "securellm-offload";'
        ' units = [ "llamacpp.service" "ollama.service" ]; }'
    )
    assert (units_dir / "50-securellm-offload.rules").read_text() == expected


def test_plain_offload_config_lists_the_units_of_the_polkit_rule(units_dir: Path) -> None:
    config = (units_dir / "offload.toml").read_text()
    assert 'gpu_units = ["llamacpp.service", "ollama.service"]' in config


@pytest.mark.parametrize("name", ["gateway.toml", "offload.toml", "mcp.toml"])
def test_default_config_passes_config_check(config_check: Any, units_dir: Path, name: str) -> None:
    done = config_check((units_dir / name).read_text())
    assert done.returncode == 0, done.stdout + done.stderr


def test_sysusers_and_tmpfiles_build_the_layout_in_a_scratch_root(
    units_dir: Path, tmp_path: Path
) -> None:
    sysusers = require_binary("systemd-sysusers")
    tmpfiles = require_binary("systemd-tmpfiles")
    if os.geteuid() != 0:
        missing("root (systemd-tmpfiles must chown in the scratch root)")
    (tmp_path / "etc").mkdir()
    for name in ("passwd", "group"):
        (tmp_path / "etc" / name).write_text(
            "root:x:0:0:root:/root:/bin/sh\n" if name == "passwd" else "root:x:0:\n"
        )
    root = f"--root={tmp_path}"
    subprocess.run([sysusers, root, str(units_dir / "sysusers.conf")], check=True, timeout=60)
    subprocess.run(
        [tmpfiles, "--create", root, str(units_dir / "tmpfiles.conf")], check=True, timeout=60
    )
    models = tmp_path / "var/lib/ml-models/llamacpp/models"
    knowledge = tmp_path / "var/lib/mcp-knowledge"
    assert oct(models.stat().st_mode & 0o7777) == "0o2775"
    assert oct(knowledge.stat().st_mode & 0o7777) == "0o2770"
    groups = (tmp_path / "etc/group").read_text()
    assert re.search(r"^ml-models:x:\d+:securellm-offload$", groups, re.MULTILINE)
