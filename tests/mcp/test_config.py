"""``[mcp]`` settings and the environment variables read by ``mcp_runtime``."""

from __future__ import annotations

from pathlib import Path

import pytest

from securellm.core.config import ConfigError, McpSettings, settings_from_mapping
from securellm.core.config.mcp import SERVICE_KNOWLEDGE_DB, mcp_runtime

DATA = Path("/data")
STATE = Path("/state")


def runtime(env: dict[str, str], **mcp: object) -> McpSettings:
    return mcp_runtime(McpSettings(**mcp), data_dir=DATA, state_dir=STATE, env=env)  # type: ignore[arg-type]


def test_user_default_puts_the_db_in_the_data_dir() -> None:
    assert runtime({}).knowledge_db_path == DATA / "knowledge.db"


def test_service_default_is_the_shared_knowledge_db() -> None:
    assert (
        runtime({"STATE_DIRECTORY": "/var/lib/securellm"}).knowledge_db_path == SERVICE_KNOWLEDGE_DB
    )


def test_knowledge_db_path_env_wins_over_the_file() -> None:
    resolved = runtime({"KNOWLEDGE_DB_PATH": "/tmp/k.db"}, knowledge_db_path=Path("/cfg.db"))
    assert resolved.knowledge_db_path == Path("/tmp/k.db")


def test_config_file_db_path_wins_over_defaults() -> None:
    assert runtime({}, knowledge_db_path=Path("/cfg.db")).knowledge_db_path == Path("/cfg.db")


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("1", True), ("false", False), ("", False)]
)
def test_debug_to_stderr_env(value: str, expected: bool) -> None:
    assert runtime({"DEBUG_TO_STDERR": value}).debug_to_stderr is expected


def test_log_file_lives_in_the_state_dir() -> None:
    assert runtime({}).log_file == STATE / "mcp.log"


def test_unknown_mcp_key_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mcp\.nix_timeout"):
        settings_from_mapping({"mcp": {"nix_timeout": 5}}, env={})


def test_nix_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="nix_timeout_s"):
        settings_from_mapping({"mcp": {"nix_timeout_s": 0}}, env={})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8765", ("127.0.0.1", 8765)),
        ("[::1]:9", ("::1", 9)),
        ("8765", ("127.0.0.1", 8765)),
    ],
)
def test_http_address_parsing(value: str, expected: tuple[str, int]) -> None:
    from securellm.mcp.run import parse_http_address

    assert parse_http_address(value) == expected


@pytest.mark.parametrize("value", ["", "host", "host:", ":80", "h:99999", "h:-1"])
def test_bad_http_addresses_are_refused(value: str) -> None:
    from securellm.mcp.errors import InvalidInputError
    from securellm.mcp.run import parse_http_address

    with pytest.raises(InvalidInputError):
        parse_http_address(value)
