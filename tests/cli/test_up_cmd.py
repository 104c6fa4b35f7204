"""``securellm up`` (what ``make run`` starts): offload + gateway answer a real chat."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from support.asgi_server import serve_app
from support.llama import gemma_gguf_path
from support.require import free_port
from support.tls import private_ca

MASTER = "sk-up-test-master-0123456789"


def test_up_serves_the_bundled_model_through_the_gateway(tmp_path: Path) -> None:
    gemma_gguf_path()  # skips (or fails in CI) when the model package is missing
    gateway_port, offload_port = free_port(), free_port()
    config = tmp_path / "securellm.toml"
    config.write_text(
        f'data_dir = "{tmp_path}/data"\nlog_dir = "{tmp_path}/log"\n'
        f'state_dir = "{tmp_path}/state"\n'
        f'[gateway]\nport = {gateway_port}\nmaster_key = "{MASTER}"\n'
        f"[offload]\nport = {offload_port}\n"
        f'[[providers]]\nname = "local"\nkind = "offload"\n'
        f'base_url = "http://127.0.0.1:{offload_port}/v1"\n'
    )
    env = {**os.environ, "SECURELLM_CONFIG": str(config)}
    process = subprocess.Popen(
        [sys.executable, "-m", "securellm", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{gateway_port}"
    try:
        _wait(f"{base}/health", process)
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)
        reply = client.chat.completions.create(
            model="local/gemma-3-270m",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            temperature=0,
            max_tokens=16,
        )
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0].decode(errors="replace")
    assert "Paris" in (reply.choices[0].message.content or "")
    assert f"curl {base}/v1/chat/completions" in output
    assert MASTER not in output


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"securellm up exited with {process.returncode}")
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError("securellm up did not start within 180 s")


def _health(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@pytest.fixture
def tls_offload(tmp_path: Path) -> Iterator[tuple[int, Path, Path, Path]]:
    """An offload stand-in already running over TLS from a private CA: (port, ca, cert, key)."""
    ca, cert, key = private_ca(tmp_path)
    port = free_port()
    app = Starlette(routes=[Route("/health", _health)])
    with serve_app(app, port=port, ssl_certfile=str(cert), ssl_keyfile=str(key)):
        yield port, ca, cert, key


def _up_config(tmp_path: Path, offload_port: int, cert: Path, key: Path) -> tuple[Path, int]:
    gateway_port = free_port()
    config = tmp_path / "up.toml"
    config.write_text(
        f'data_dir = "{tmp_path}/data"\nlog_dir = "{tmp_path}/log"\n'
        f'state_dir = "{tmp_path}/state"\n'
        f'[gateway]\nport = {gateway_port}\nmaster_key = "{MASTER}"\n'
        f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
        f'[[providers]]\nname = "local"\nkind = "offload"\nmodels = ["m"]\n'
        f'base_url = "https://127.0.0.1:{offload_port}/v1"\n'
    )
    return config, gateway_port


def test_up_trusts_a_private_ca_given_with_cacert_and_serves_https(
    tmp_path: Path, tls_offload: tuple[int, Path, Path, Path]
) -> None:
    offload_port, ca, cert, key = tls_offload
    config, gateway_port = _up_config(tmp_path, offload_port, cert, key)
    argv = [sys.executable, "-m", "securellm", "up", "--config", str(config), "--cacert", str(ca)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"https://127.0.0.1:{gateway_port}"
    try:
        health = _wait_tls(f"{base}/health", ca, process)
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0].decode(errors="replace")
    assert health.status_code == 200
    assert f"curl {base}/v1/chat/completions" in output


def test_up_without_the_ca_of_a_tls_offload_fails_in_one_line(
    tmp_path: Path, tls_offload: tuple[int, Path, Path, Path]
) -> None:
    offload_port, _, cert, key = tls_offload
    config, _ = _up_config(tmp_path, offload_port, cert, key)
    env = {k: v for k, v in os.environ.items() if k != "SECURELLM_CACERT"}
    argv = [sys.executable, "-m", "securellm", "up", "--config", str(config)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "TLS verification" in line
    assert "--cacert" in line


def _wait_tls(url: str, ca: Path, process: subprocess.Popen[bytes]) -> httpx.Response:
    verify = ssl.create_default_context(cafile=ca)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"securellm up exited with {process.returncode}")
        try:
            return httpx.get(url, verify=verify, timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("securellm up did not serve HTTPS")


@pytest.mark.parametrize(
    ("host", "url"), [("::", "http://127.0.0.1:8100"), ("::1", "http://[::1]:8100")]
)
def test_the_banner_gives_a_url_curl_can_use(tmp_path: Path, host: str, url: str) -> None:
    from securellm.cli.up_cmd import _examples
    from securellm.core.config import settings_from_mapping

    settings = settings_from_mapping(
        {"data_dir": str(tmp_path), "gateway": {"host": host, "port": 8100}}, env={}
    )
    assert f"curl {url}/v1/chat/completions" in _examples(settings)
