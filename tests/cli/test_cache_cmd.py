"""``securellm cache stats|clear`` against a real gateway, over TLS from a private CA."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from typer.testing import CliRunner

from securellm.cli.main import app
from support.require import free_port
from support.tls import private_ca

MASTER = "sk-cache-cli-master-0123456789"
runner = CliRunner()


@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A real ``securellm gateway`` serving HTTPS with a private CA: (config, CA file)."""
    folder = tmp_path_factory.mktemp("tls")
    ca, cert, key = private_ca(folder)
    port = free_port()
    config = folder / "gw.toml"
    config.write_text(
        f'data_dir = "{folder}/data"\nstate_dir = "{folder}/state"\nlog_dir = "{folder}/log"\n'
        f'[gateway]\nport = {port}\nmaster_key = "{MASTER}"\n'
        f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
        f'[[providers]]\nname = "x"\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
        f'models = ["m"]\n'
    )
    argv = [sys.executable, "-m", "securellm", "gateway", "--config", str(config)]
    process = subprocess.Popen(argv, env=dict(os.environ), stderr=subprocess.DEVNULL)
    try:
        _wait(f"https://127.0.0.1:{port}/health", ca, process)
        yield config, ca
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait(url: str, ca: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    verify = ssl.create_default_context(cafile=ca)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the gateway exited with {process.returncode}")
        try:
            httpx.get(url, verify=verify, timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the TLS gateway did not answer")


def test_cache_stats_trusts_the_ca_given_with_cacert(tls_gateway: tuple[Path, Path]) -> None:
    config, ca = tls_gateway
    result = runner.invoke(app, ["cache", "stats", "--config", str(config), "--cacert", str(ca)])
    assert result.exit_code == 0, result.output
    assert "hits" in result.output


def test_cache_clear_reads_the_ca_from_securellm_cacert(tls_gateway: tuple[Path, Path]) -> None:
    config, ca = tls_gateway
    result = runner.invoke(
        app, ["cache", "clear", "--config", str(config)], env={"SECURELLM_CACERT": str(ca)}
    )
    assert result.exit_code == 0, result.output
    assert "cleared 0 entries" in result.output


def test_cache_stats_without_the_ca_fails_in_one_line_naming_cacert(
    tls_gateway: tuple[Path, Path],
) -> None:
    config, _ = tls_gateway
    result = runner.invoke(app, ["cache", "stats", "--config", str(config)], env={})
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "TLS verification" in lines[0]
    assert "--cacert" in lines[0]
    assert MASTER not in result.output


def test_a_cacert_that_is_not_a_certificate_is_a_usage_error(
    tls_gateway: tuple[Path, Path], tmp_path: Path
) -> None:
    config, _ = tls_gateway
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    result = runner.invoke(app, ["cache", "stats", "--config", str(config), "--cacert", str(junk)])
    assert result.exit_code == 2
    assert "cannot use" in result.output


def test_a_missing_cacert_file_is_refused_before_any_call(tls_gateway: tuple[Path, Path]) -> None:
    config, _ = tls_gateway
    result = runner.invoke(
        app, ["cache", "stats", "--config", str(config), "--cacert", "/nonexistent/ca.pem"]
    )
    assert result.exit_code == 2
