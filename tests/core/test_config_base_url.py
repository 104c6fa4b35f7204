"""A provider's base_url is checked at load: http(s), a host, no credentials, query or fragment."""

from __future__ import annotations

from pathlib import Path

import pytest

from securellm.core.config import ConfigError, load_settings

PROVIDER = """
[[providers]]
name = "up"
kind = "openai-compatible"
base_url = "{url}"
"""


def load(tmp_path: Path, url: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(PROVIDER.format(url=url))
    settings = load_settings(path, env={})
    return settings.providers[0].effective_base_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "https://api.openai.com/v1",
        "http://[::1]:11434",
        "http://gpu-box",
    ],
)
def test_http_urls_with_a_host_are_accepted(tmp_path: Path, url: str) -> None:
    assert load(tmp_path, url) == url


def test_trailing_slash_is_dropped(tmp_path: Path) -> None:
    assert load(tmp_path, "http://127.0.0.1:8080/v1/") == "http://127.0.0.1:8080/v1"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://files.example/v1", "http:// or https://"),
        ("127.0.0.1:8080/v1", "http:// or https://"),
        ("http:///v1", "name a host"),
        ("http://:8080/v1", "name a host"),
        ("http://host:99999/v1", "invalid port"),
        ("http://host:port/v1", "invalid port"),
        ("http://host/v1?api_key=abc", "query"),
        ("http://host/v1#frag", "fragment"),
        ("http://my host/v1", "spaces"),
    ],
)
def test_unusable_urls_are_refused_naming_the_key(tmp_path: Path, url: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, url)
    assert "providers[0].base_url" in str(caught.value)
    assert why in str(caught.value)


def test_credentials_in_the_url_are_refused_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "https://admin:hunter2pass@api.example.com/v1")
    assert "providers[0].base_url" in str(caught.value)
    assert "user or password" in str(caught.value)
    assert "hunter2pass" not in str(caught.value)
