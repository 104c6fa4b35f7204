"""An upstream that quotes its credential never hands it to a client, a log or the audit trail.

Every provider kind, both client dialects (the official SDKs as clients), streaming and
not, and every way the upstream quotes the key (whole, masked, as ``Bearer <key>``, in an
error inside a 200 reply or stream).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest

from securellm.core.redact import MASK
from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.gateway import MASTER, make_settings
from support.leaky_upstream import MODELS, LeakyUpstream, leaked_forms

# Keys in the shapes the real services issue, and two with no recognisable shape at all.
KEYS = {
    "openai": "sk-proj-Qx7vR2mT9kLp4Wn8Zs3Yb6Hc1Jd5Fg0AeUo-iK_TxB3lN7qP2wX9vZc4MrT8sEyH1uWaJ6",
    "deepseek": "sk-3f9a1c7e5b2d4f608a9c1e3b5d7f9a2c",
    "openai-compatible": "local-upstream-key-7f3a9c2e1b",
    "anthropic": "sk-ant-api03-Zr8Kq2Lx6Vn1Tb5Mw9Pc3Hs7Jd0Fg4Ay8Ue2Io6Qk1Rx5Ln9Tb3Mw7Pc0Hs4Jd8"
    "-AbC1dEfAA",
    "ollama": "ollama-proxy-token-5d2e8b1a",
}
KINDS = list(KEYS)


@dataclass
class Stack:
    base: str
    key: str  # a virtual key that records content in the audit trail
    upstream: LeakyUpstream
    root: Path


def _provider(kind: str, url: str) -> dict[str, Any]:
    return {
        "name": kind.replace("-", ""),
        "kind": kind,
        "base_url": f"{url}/v1" if kind in ("openai", "deepseek", "openai-compatible") else url,
        "api_key": KEYS[kind],
        "models": MODELS,
        "retry": {"attempts": 1},
        "breaker": {"enabled": False},
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    upstream = LeakyUpstream()
    root = tmp_path_factory.mktemp("leaky")
    with serve_app(upstream.app()) as url:
        providers = [_provider(kind, url) for kind in KINDS]
        settings = make_settings(
            root, providers, gateway={"limits_enabled": False}, cache={"enabled": False}
        )
        with serve_app(create_app(settings)) as base:
            response = httpx.post(
                f"{base}/admin/keys",
                json={"name": "content-logged", "log_content": True},
                headers={"authorization": f"Bearer {MASTER}"},
            )
            assert response.status_code == 201
            yield Stack(base, response.json()["key"], upstream, root)


def _openai_exchange(stack: Stack, model: str, stream: bool) -> tuple[str, str]:
    """(everything the client received, the request id) through the openai SDK."""
    client = openai.OpenAI(base_url=f"{stack.base}/v1", api_key=stack.key, max_retries=0)
    ask: Any = [{"role": "user", "content": "hi"}]
    try:
        if stream:
            with client.chat.completions.with_streaming_response.create(
                model=model, messages=ask, stream=True
            ) as response:
                return response.read().decode(), response.headers["x-request-id"]
        raw = client.chat.completions.with_raw_response.create(model=model, messages=ask)
        return raw.http_response.text, raw.headers["x-request-id"]
    except openai.APIStatusError as exc:
        return f"{exc}\n{exc.response.text}", exc.response.headers["x-request-id"]


def _anthropic_exchange(stack: Stack, model: str, stream: bool) -> tuple[str, str]:
    """(everything the client received, the request id) through the anthropic SDK."""
    client = anthropic.Anthropic(base_url=stack.base, api_key=stack.key, max_retries=0)
    ask: Any = [{"role": "user", "content": "hi"}]
    try:
        if stream:
            with client.messages.with_streaming_response.create(
                model=model, max_tokens=16, messages=ask, stream=True
            ) as response:
                return response.read().decode(), response.headers["x-request-id"]
        raw = client.messages.with_raw_response.create(model=model, max_tokens=16, messages=ask)
        return raw.http_response.text, raw.headers["x-request-id"]
    except anthropic.APIStatusError as exc:
        return f"{exc}\n{exc.response.text}", exc.response.headers["x-request-id"]


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(str(record.__dict__))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def _on_disk(root: Path) -> str:
    """Every file the gateway wrote (audit trail, its index, keys DB), as text."""
    return "\n".join(
        path.read_bytes().decode("utf-8", "replace") for path in root.rglob("*") if path.is_file()
    )


def _audit_record(root: Path, request_id: str) -> str:
    lines = [
        line
        for path in (root / "log" / "audit").glob("audit-*.jsonl")
        for line in path.read_text().splitlines()
        if request_id in line
    ]
    assert len(lines) == 1
    return lines[0]


EXCHANGES = {"openai": _openai_exchange, "anthropic": _anthropic_exchange}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("leak", MODELS)
@pytest.mark.parametrize("dialect", list(EXCHANGES))
@pytest.mark.parametrize("kind", KINDS)
def test_upstream_credential_never_leaves_the_gateway(
    stack: Stack,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    dialect: str,
    leak: str,
    stream: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = KEYS[kind]
    seen, request_id = EXCHANGES[dialect](stack, f"{kind.replace('-', '')}/{leak}", stream)
    assert stack.upstream.seen[-1] == key  # the key did go upstream, and came back quoted
    record = _audit_record(stack.root, request_id)
    assert MASK in seen
    assert MASK in record
    for form in leaked_forms(key):
        assert form not in seen
        assert form not in _logged(caplog)
        assert form not in _on_disk(stack.root)


def test_failed_model_discovery_is_logged_without_the_credential(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    upstream = LeakyUpstream()
    with serve_app(upstream.app()) as url:
        providers = [{**_provider(kind, url), "models": None} for kind in KINDS]
        with serve_app(create_app(make_settings(tmp_path, providers))):
            pass
    failures = [r for r in caplog.records if r.getMessage() == "model discovery failed"]
    assert len(failures) == len(KINDS)
    assert all(MASK in r.__dict__["error"] for r in failures)
    for key in KEYS.values():
        assert key in upstream.seen
        for form in leaked_forms(key):
            assert form not in _logged(caplog)
