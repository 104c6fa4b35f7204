"""``securellm keys create|list|revoke`` work on the gateway's database directly."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from securellm.cli.main import app

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "securellm.toml"
    path.write_text(f'data_dir = "{tmp_path}/data"\n')
    return path


def create(config: Path, *args: str) -> str:
    result = runner.invoke(app, ["keys", "create", "laptop", "--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_create_prints_the_key_once(config: Path) -> None:
    key = create(config, "--models", "local/*", "--rpm", "60", "--budget", "5", "--period", "day")
    assert key.startswith("sk-sl-")


def test_list_shows_limits_but_never_the_key(config: Path) -> None:
    key = create(config, "--rpm", "60", "--tpm", "1000")
    result = runner.invoke(app, ["keys", "list", "--config", str(config)])
    assert result.exit_code == 0
    assert "laptop" in result.output and "60" in result.output
    assert key not in result.output


def test_revoke_by_name_marks_it_revoked(config: Path) -> None:
    create(config)
    assert runner.invoke(app, ["keys", "revoke", "laptop", "--config", str(config)]).exit_code == 0
    listing = runner.invoke(app, ["keys", "list", "--config", str(config)])
    assert "revoked" in listing.output


def test_revoking_an_unknown_key_fails_clearly(config: Path) -> None:
    result = runner.invoke(app, ["keys", "revoke", "ghost", "--config", str(config)])
    assert result.exit_code == 1
    assert "no key" in result.output


def test_bad_period_is_a_usage_error(config: Path) -> None:
    result = runner.invoke(
        app, ["keys", "create", "x", "--config", str(config), "--budget", "1", "--period", "week"]
    )
    assert result.exit_code == 2


def test_bad_expiry_is_a_usage_error(config: Path) -> None:
    result = runner.invoke(
        app, ["keys", "create", "x", "--config", str(config), "--expires", "soon"]
    )
    assert result.exit_code == 2
