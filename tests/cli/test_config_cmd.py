"""``securellm config check``: exit 0 on a good file, 2 with every bad key named."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from securellm.cli.main import app

runner = CliRunner()


def test_valid_file_is_ok(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text('[[providers]]\nname = "local"\nbase_url = "http://127.0.0.1:8080/v1"\n')
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0
    assert "ok" in result.output and "local" in result.output


def test_invalid_file_exits_2_naming_each_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[gateway]\nport = "high"\n\n[[providers]]\nname = "x"\nkind = "nope"\n')
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert "gateway.port (line 2)" in result.output
    assert "providers[0].kind (line 6)" in result.output
    assert "Traceback" not in result.output


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(tmp_path / "absent.toml")])
    assert result.exit_code == 2
    assert "cannot read file" in result.output
