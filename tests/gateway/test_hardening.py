"""Transport hardening: TLS when configured, CORS only for configured origins."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

from support.gateway import MASTER, GatewayFactory
from support.require import free_port, require_binary


def _self_signed(folder: Path) -> tuple[Path, Path]:
    openssl = require_binary("openssl")
    cert, key = folder / "cert.pem", folder / "key.pem"
    argv = [
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return cert, key


def test_gateway_serves_https_when_a_certificate_is_configured(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    config = tmp_path / "gw.toml"
    config.write_text(
        f'data_dir = "{tmp_path}/data"\nlog_dir = "{tmp_path}/log"\n'
        f'[gateway]\nport = {port}\nmaster_key = "{MASTER}"\n'
        f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
        f'[[providers]]\nname = "x"\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
        f'models = ["m"]\n'
    )
    argv = [sys.executable, "-m", "securellm", "gateway", "--config", str(config)]
    process = subprocess.Popen(argv, env=dict(os.environ), stderr=subprocess.DEVNULL)
    try:
        health = _wait(f"https://127.0.0.1:{port}/health", cert)
        with httpx.Client(verify=False) as plain:
            try:
                plain.get(f"http://127.0.0.1:{port}/health", timeout=5)
                plain_ok = True
            except httpx.TransportError:
                plain_ok = False
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert health.status_code == 200
    assert not plain_ok


def _wait(url: str, cert: Path) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, verify=ssl.create_default_context(cafile=cert), timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the TLS gateway did not answer")


def test_cors_is_off_by_default(fake_gateway: str) -> None:
    response = httpx.options(
        f"{fake_gateway}/v1/models",
        headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_only_the_configured_origins(
    gateway_for: GatewayFactory, tmp_path: Path
) -> None:
    provider = {"name": "x", "base_url": f"http://127.0.0.1:{free_port()}/v1", "models": ["m"]}
    origins = {"cors_origins": ["https://app.example"]}
    with gateway_for([provider], gateway=origins) as base:
        preflight = {"access-control-request-method": "POST"}
        allowed = httpx.options(
            f"{base}/v1/chat/completions", headers={"origin": "https://app.example", **preflight}
        )
        refused = httpx.options(
            f"{base}/v1/chat/completions", headers={"origin": "https://evil.example", **preflight}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in refused.headers
