"""Transport hardening: TLS, CORS, header limits (431) and the key on /metrics and /ready."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from securellm.gateway.app import create_app
from securellm.gateway.limits_http import uvicorn_options
from support.asgi_server import serve_app
from support.gateway import MASTER, GatewayFactory, make_settings
from support.require import free_port, require_binary

AUTH = {"Authorization": f"Bearer {MASTER}"}


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


# -- header limits (431, before authentication or the body) ------------------------------


def raw_request(base: str, head: bytes, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Send ``head`` (request line and fields, no blank line) on a plain socket; read the answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + b"\r\n" + body)
        return _read_response(sock)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    length = int({k.lower(): v for k, v in fields.items()}["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    parsed: dict[str, Any] = json.loads(body[:length])
    return int(lines[0].split()[1]), parsed


def _post_key(base: str, extra: bytes, auth: bool = True) -> tuple[int, dict[str, Any]]:
    body = b'{"name": "big-header-%s"}' % uuid.uuid4().hex[:8].encode()
    host = base.removeprefix("http://").encode()
    head = (
        b"POST /admin/keys HTTP/1.1\r\nhost: " + host + b"\r\n"
        + (f"authorization: Bearer {MASTER}\r\n".encode() if auth else b"")
        + b"content-type: application/json\r\n"
        + b"content-length: " + str(len(body)).encode() + b"\r\n" + extra
    )  # fmt: skip
    return raw_request(base, head, body)


@pytest.fixture
def plain_gateway(gateway_for: GatewayFactory) -> Iterator[str]:
    provider = {"name": "x", "base_url": f"http://127.0.0.1:{free_port()}/v1", "models": ["m"]}
    with gateway_for([provider]) as base:
        yield base


def _keys(base: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = httpx.get(f"{base}/admin/keys", headers=AUTH).json()["data"]
    return listed


def test_a_one_megabyte_header_is_refused_with_431(plain_gateway: str) -> None:
    status, body = _post_key(plain_gateway, b"x-big: " + b"a" * (1024 * 1024) + b"\r\n")
    assert status == 431
    assert body["error"]["code"] == "request_header_fields_too_large"
    assert body["error"]["type"] == "invalid_request_error"
    assert _keys(plain_gateway) == []


def test_two_thousand_headers_are_refused_with_431(plain_gateway: str) -> None:
    many = b"".join(b"x-h-%d: v\r\n" % n for n in range(2000))
    status, body = _post_key(plain_gateway, many)
    assert status == 431
    assert "too many header fields" in body["error"]["message"]
    assert _keys(plain_gateway) == []


def test_header_limits_are_checked_before_authentication(plain_gateway: str) -> None:
    many = b"".join(b"x-h-%d: v\r\n" % n for n in range(2000))
    status, _ = _post_key(plain_gateway, many, auth=False)
    assert status == 431


def test_headers_within_the_limits_are_served(plain_gateway: str) -> None:
    fields = b"".join(b"x-h-%d: v\r\n" % n for n in range(95))  # 100 with the request's own
    status, body = _post_key(plain_gateway, fields + b"x-big: " + b"a" * 20_000 + b"\r\n")
    assert status == 201
    assert body["name"].startswith("big-header")


def test_the_messages_route_answers_431_in_the_anthropic_shape(plain_gateway: str) -> None:
    host = plain_gateway.removeprefix("http://").encode()
    head = b"POST /v1/messages HTTP/1.1\r\nhost: " + host + b"\r\ncontent-length: 0\r\n"
    status, body = raw_request(plain_gateway, head + b"x-big: " + b"a" * 40_000 + b"\r\n")
    assert status == 431
    assert body["type"] == "error"
    assert body["error"]["type"] == "request_too_large"


def test_the_header_limits_follow_the_config(gateway_for: GatewayFactory) -> None:
    provider = {"name": "x", "base_url": f"http://127.0.0.1:{free_port()}/v1", "models": ["m"]}
    limits = {"max_header_bytes": 2048, "max_headers": 10}
    with gateway_for([provider], gateway=limits) as base:
        big, _ = _post_key(base, b"x-big: " + b"a" * 2048 + b"\r\n")
        many, _ = _post_key(base, b"".join(b"x-h-%d: v\r\n" % n for n in range(7)))  # 11
        fits, _ = _post_key(base, b"x-h: " + b"a" * 1024 + b"\r\n")
    assert (big, many, fits) == (431, 431, 201)


def test_a_header_block_that_never_ends_is_cut_off_at_the_cap(tmp_path: Path) -> None:
    """The guarded protocol answers while the client is still sending, so nothing piles up."""
    provider = {"name": "x", "base_url": f"http://127.0.0.1:{free_port()}/v1", "models": ["m"]}
    settings = make_settings(tmp_path, [provider])
    options = uvicorn_options(settings.gateway.max_header_bytes)
    with serve_app(create_app(settings), **options) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-endless: ")
            sock.sendall(b"a" * (256 * 1024))  # still no end of the header block
            status, body = _read_response(sock)
    assert status == 431
    assert body["error"]["code"] == "request_header_fields_too_large"


def test_the_guarded_protocol_serves_requests_within_the_cap(tmp_path: Path) -> None:
    provider = {"name": "x", "base_url": f"http://127.0.0.1:{free_port()}/v1", "models": ["m"]}
    settings = make_settings(tmp_path, [provider])
    options = uvicorn_options(settings.gateway.max_header_bytes)
    with serve_app(create_app(settings), **options) as base, httpx.Client() as client:
        answers = [
            client.post(f"{base}/admin/keys", json={"name": f"k{n}"},
                        headers={**AUTH, "x-pad": "a" * 20_000}).status_code
            for n in range(3)
        ]  # fmt: skip
    assert answers == [201, 201, 201]


# -- /metrics and /ready behind the master key (protect_ops) -------------------------------


@pytest.mark.parametrize(
    ("host", "protect", "expected"),
    [
        ("127.0.0.1", "auto", False),
        ("::1", "auto", False),
        ("localhost", "auto", False),
        ("0.0.0.0", "auto", True),
        ("192.168.1.20", "auto", True),
        ("gateway.example", "auto", True),
        ("0.0.0.0", False, False),
        ("127.0.0.1", True, True),
    ],
)
def test_protect_ops_auto_protects_every_bind_but_loopback(
    tmp_path: Path, host: str, protect: str | bool, expected: bool
) -> None:
    settings = make_settings(tmp_path, [], gateway={"host": host, "protect_ops": protect})
    assert settings.gateway.ops_protected is expected


def _ops(base: str, headers: dict[str, str]) -> list[int]:
    return [httpx.get(f"{base}{path}", headers=headers).status_code for path in OPS]


OPS = ("/metrics", "/ready")


def test_ops_endpoints_answer_anyone_on_loopback_by_default(plain_gateway: str) -> None:
    assert _ops(plain_gateway, {}) == [200, 200]


def test_protected_ops_endpoints_refuse_a_caller_without_a_key(
    gateway_for: GatewayFactory,
) -> None:
    provider = {"name": "x", "base_url": f"http://127.0.0.1:{free_port()}/v1", "models": ["m"]}
    with gateway_for([provider], gateway={"host": "0.0.0.0"}) as base:  # served on 127.0.0.1
        refused = [httpx.get(f"{base}{path}") for path in OPS]
        health = httpx.get(f"{base}/health").status_code
    assert [r.status_code for r in refused] == [401, 401]
    assert all(r.json()["error"]["type"] == "authentication_error" for r in refused)
    assert health == 200


def test_protected_ops_endpoints_refuse_a_virtual_key(gateway_for: GatewayFactory) -> None:
    provider = {"name": "x", "base_url": f"http://127.0.0.1:{free_port()}/v1", "models": ["m"]}
    with gateway_for([provider], gateway={"protect_ops": True}) as base:
        key = httpx.post(f"{base}/admin/keys", json={"name": "user"}, headers=AUTH).json()["key"]
        statuses = _ops(base, {"Authorization": f"Bearer {key}"})
    assert statuses == [403, 403]


def test_protected_ops_endpoints_answer_the_master_key(gateway_for: GatewayFactory) -> None:
    provider = {"name": "x", "base_url": f"http://127.0.0.1:{free_port()}/v1", "models": ["m"]}
    with gateway_for([provider], gateway={"protect_ops": True}) as base:
        metrics = httpx.get(f"{base}/metrics", headers=AUTH)
        ready = httpx.get(f"{base}/ready", headers=AUTH)
    assert metrics.status_code == 200
    assert "securellm_requests_total" in metrics.text
    assert ready.json()["status"] == "ready"


def test_securellm_gateway_cuts_off_an_endless_header(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "gw.toml"
    config.write_text(
        f'data_dir = "{tmp_path}/data"\nstate_dir = "{tmp_path}/state"\n'
        f'log_dir = "{tmp_path}/log"\n[gateway]\nport = {port}\nmaster_key = "{MASTER}"\n'
    )
    argv = [sys.executable, "-m", "securellm", "gateway", "--config", str(config)]
    process = subprocess.Popen(argv, env=dict(os.environ), stderr=subprocess.DEVNULL)
    try:
        _wait_plain(f"http://127.0.0.1:{port}/health", process)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-endless: ")
            sock.sendall(b"a" * (256 * 1024))
            status, body = _read_response(sock)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert status == 431
    assert body["error"]["type"] == "request_too_large"


def _wait_plain(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the gateway exited with {process.returncode}")
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the gateway did not answer")
