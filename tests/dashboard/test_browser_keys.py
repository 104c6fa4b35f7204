"""Keys in a real browser, with the real CLI on the same database agreeing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from support.browser import screenshot, sign_in


def cli(tmp_path: Path, *args: str) -> str:
    """Run ``securellm keys ...`` as a user would, on the test gateway's data folder."""
    config = tmp_path / "cli.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "securellm", "keys", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def cli_keys(tmp_path: Path) -> dict[str, dict[str, Any]]:
    return {k["name"]: k for k in json.loads(cli(tmp_path, "list", "--json"))}


def test_a_key_made_by_the_cli_is_on_the_keys_page(
    page: Page, gateway_url: str, tmp_path: Path, shots: Path
) -> None:
    cli(tmp_path, "create", "from-the-cli", "--rpm", "60")
    made = cli_keys(tmp_path)["from-the-cli"]
    sign_in(page, gateway_url)
    page.click("nav >> text=Keys")
    row = page.locator("tr", has_text="from-the-cli")
    assert made["id"] in row.inner_text()
    screenshot(page, shots, "keys")


def test_a_key_made_and_revoked_in_the_browser_is_revoked_for_the_cli(
    page: Page, gateway_url: str, tmp_path: Path
) -> None:
    sign_in(page, gateway_url)
    page.goto(f"{gateway_url}/ui/keys")
    page.fill("#name", "from-the-browser")
    page.click(".key-form button[type=submit]")
    assert page.locator("text=sk-").first.is_visible()
    assert cli_keys(tmp_path)["from-the-browser"]["revoked"] is False
    page.goto(f"{gateway_url}/ui/keys")
    page.locator("tr", has_text="from-the-browser").locator("text=Revoke").click()
    assert cli_keys(tmp_path)["from-the-browser"]["revoked"] is True
