"""The pieces of ``--http`` security: token source, verifier, allowed Host and Origin values."""

from __future__ import annotations

import errno
import os
import socket
import stat
from pathlib import Path
from typing import NoReturn

import pytest

from securellm.core.config import McpSettings
from securellm.mcp.errors import HttpStartError
from securellm.mcp.http import (
    HttpToken,
    StaticTokenVerifier,
    banner,
    http_token,
    load_or_create_token,
    transport_security,
)

TOKEN = "a-token-that-is-long-enough-0123"


def test_the_generated_token_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "mcp-http-token"
    token, _ = load_or_create_token(path)
    assert len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == token


def test_a_token_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "mcp-http-token"
    path.write_text(TOKEN)
    path.chmod(0o644)
    token, notes = load_or_create_token(path)
    assert token == TOKEN
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "0600" in notes[0]


def test_an_empty_token_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mcp-http-token"
    path.write_text("\n")
    with pytest.raises(HttpStartError, match="empty"):
        load_or_create_token(path)


def test_a_token_file_that_cannot_be_written_is_not_left_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk at first start: the next start must not find an empty token file.
    path = tmp_path / "state" / "mcp-http-token"

    def disk_full(fd: int, *_args: object, **_kwargs: object) -> NoReturn:
        os.close(fd)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", disk_full)
    with pytest.raises(HttpStartError, match="No space left"):
        load_or_create_token(path)
    monkeypatch.undo()
    assert not path.exists()
    assert list(path.parent.iterdir()) == []
    token, _ = load_or_create_token(path)
    assert len(token) >= 32


def test_a_configured_token_file_wins_over_the_state_dir(tmp_path: Path) -> None:
    configured = tmp_path / "token"
    configured.write_text(TOKEN)
    token = http_token(McpSettings(http_token_file=configured), tmp_path / "state")
    assert token.value == TOKEN
    assert str(configured) in token.source
    assert not (tmp_path / "state" / "mcp-http-token").exists()


def test_a_short_configured_token_is_refused_without_showing_it(tmp_path: Path) -> None:
    configured = tmp_path / "token"
    configured.write_text("short-secret")
    with pytest.raises(HttpStartError) as caught:
        http_token(McpSettings(http_token_file=configured), tmp_path)
    assert "short-secret" not in str(caught.value)


async def test_the_verifier_accepts_only_the_token() -> None:
    verifier = StaticTokenVerifier(TOKEN)
    assert await verifier.verify_token(TOKEN) is not None
    assert await verifier.verify_token(TOKEN + "x") is None
    assert await verifier.verify_token("") is None


def test_a_loopback_bind_allows_its_address_and_localhost() -> None:
    security = transport_security("127.0.0.2", McpSettings())
    assert security.enable_dns_rebinding_protection is True
    assert security.allowed_hosts == ["127.0.0.2:*", "localhost:*"]
    assert security.allowed_origins == ["http://127.0.0.2:*", "http://localhost:*"]


def test_an_ipv6_bind_is_written_in_brackets() -> None:
    assert transport_security("::1", McpSettings()).allowed_hosts[0] == "[::1]:*"


def test_a_network_address_allows_only_itself() -> None:
    assert transport_security("192.0.2.7", McpSettings()).allowed_hosts == ["192.0.2.7:*"]


def test_a_wildcard_bind_allows_loopback_names_and_the_host_name() -> None:
    hosts = transport_security("0.0.0.0", McpSettings()).allowed_hosts
    assert "127.0.0.1:*" in hosts
    assert "[::1]:*" in hosts
    assert f"{socket.gethostname()}:*" in hosts
    assert "0.0.0.0:*" not in hosts


def test_configured_names_are_allowed_with_and_without_a_port() -> None:
    mcp = McpSettings(
        http_allowed_hosts=("mcp.example.org", "proxy:443"),
        http_allowed_origins=("https://ide.example.org",),
    )
    security = transport_security("127.0.0.1", mcp)
    assert {"mcp.example.org", "mcp.example.org:*", "proxy:443"} <= set(security.allowed_hosts)
    assert "https://mcp.example.org" in security.allowed_origins
    assert "https://ide.example.org" in security.allowed_origins


def test_the_banner_names_the_token_file_not_the_token() -> None:
    text = banner("127.0.0.1", 8765, HttpToken(TOKEN, "the file /state/mcp-http-token"))
    assert "/state/mcp-http-token" in text
    assert "http://127.0.0.1:8765/mcp" in text
    assert TOKEN not in text
    assert "warning" not in text


def test_the_banner_warns_about_a_network_bind() -> None:
    assert "reachable from other machines" in banner("0.0.0.0", 1, HttpToken(TOKEN, "x"))
