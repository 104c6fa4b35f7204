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


def test_default_flake_roots_are_the_project_and_etc_nixos(tmp_path: Path) -> None:
    from securellm.core.config.mcp import default_flake_roots

    assert default_flake_roots(tmp_path, Path("/home/u")) == (
        tmp_path.resolve(),
        Path("/etc/nixos"),
    )


@pytest.mark.parametrize("cwd", [Path("/"), Path("/home"), Path("/home/u")])
def test_default_flake_roots_leave_out_the_home_directory_and_above(cwd: Path) -> None:
    from securellm.core.config.mcp import default_flake_roots

    assert default_flake_roots(cwd, Path("/home/u")) == (Path("/etc/nixos"),)


def test_runtime_fills_the_default_flake_roots() -> None:
    assert runtime({"HOME": "/nonexistent-home"}).nix_allowed_roots == (
        Path.cwd().resolve(),
        Path("/etc/nixos"),
    )


def test_configured_flake_roots_are_kept() -> None:
    assert runtime({}, nix_allowed_roots=(Path("/srv/flakes"),)).nix_allowed_roots == (
        Path("/srv/flakes"),
    )


@pytest.mark.parametrize("root", ["/", "relative/dir"])
def test_a_flake_root_of_slash_or_a_relative_path_is_a_config_error(root: str) -> None:
    with pytest.raises(ConfigError, match="nix_allowed_roots"):
        settings_from_mapping({"mcp": {"nix_allowed_roots": [root]}}, env={})


@pytest.mark.parametrize(
    ("key", "value"),
    [("http_allowed_hosts", "http://x"), ("http_allowed_origins", "evil.example")],
)
def test_http_hosts_and_origins_are_checked(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        settings_from_mapping({"mcp": {key: [value]}}, env={})


def test_http_token_comes_from_its_file(tmp_path: Path) -> None:
    from securellm.core.config.mcp import configured_http_token

    (tmp_path / "token").write_text("s3cret-token\n")
    mcp = McpSettings(http_token_file=tmp_path / "token")
    token = configured_http_token(mcp, env={})
    assert token is not None
    assert token.get_secret_value() == "s3cret-token"


def test_http_token_env_that_is_unset_is_an_error() -> None:
    from securellm.core.config.mcp import configured_http_token
    from securellm.core.config.secrets import SecretSourceError

    with pytest.raises(SecretSourceError, match="MCP_TOKEN"):
        configured_http_token(McpSettings(http_token_env="MCP_TOKEN"), env={})


def test_no_http_token_configured_is_none() -> None:
    from securellm.core.config.mcp import configured_http_token

    assert configured_http_token(McpSettings(), env={}) is None
