"""The start banner: credentials never shown, the master key named by where it comes from."""

from __future__ import annotations

from pathlib import Path

from securellm.cli.banner import master_key_line, public_url, render
from securellm.core.config import settings_from_mapping


def test_a_url_loses_its_password_and_query() -> None:
    shown = public_url("postgresql://app:hunter2secret@db.lan:5432/securellm?sslpassword=x")
    assert shown == "postgresql://app@db.lan:5432/securellm"


def test_a_redis_url_with_only_a_password_shows_the_host() -> None:
    assert public_url("redis://:s3cretpass@127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_a_master_key_from_a_file_is_named_by_its_path(tmp_path: Path) -> None:
    key_file = tmp_path / "master"
    key_file.write_text("sk-file-master-0123456789\n")
    settings = settings_from_mapping(
        {"data_dir": str(tmp_path), "gateway": {"master_key_file": str(key_file)}}, env={}
    )
    assert master_key_line(settings) == f"file {key_file}"


def test_a_master_key_from_the_environment_is_named_by_its_variable(tmp_path: Path) -> None:
    env = {"SECURELLM_MASTER_KEY": "sk-env-master-0123456789"}
    settings = settings_from_mapping({"data_dir": str(tmp_path)}, env=env)
    line = master_key_line(settings, env)
    assert "environment variable SECURELLM_MASTER_KEY" in line
    assert env["SECURELLM_MASTER_KEY"] not in render(settings, {})


def test_no_master_key_configured_names_the_generated_file(tmp_path: Path) -> None:
    settings = settings_from_mapping({"data_dir": str(tmp_path)}, env={})
    assert master_key_line(settings) == f"generated file {tmp_path / 'master.key'}"


def test_a_redis_password_is_not_in_the_banner(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        {"data_dir": str(tmp_path), "gateway": {"redis_url": "redis://:s3cretpass@h:6379/0"}},
        env={},
    )
    text = render(settings, {})
    assert "shared state: Redis redis://h:6379/0" in text
    assert "s3cretpass" not in text
