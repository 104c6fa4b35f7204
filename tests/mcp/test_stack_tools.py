"""Stack tools against real HTTP servers (aiohttp, free ports) serving the documented contracts."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from mcp.client.stdio import StdioServerParameters

from mcp import Client
from support.require import free_port

MASTER = "sk-master-test-0123456789"

VRAM = {
    "source": "simulated",
    "gpus": [
        {"index": 0, "name": "Simulated GPU", "total_mib": 6144, "used_mib": 1024, "free_mib": 5120}
    ],
    "loaded": [{"model": "gemma-3-270m", "vram_mib": 400}],
}
OFFLOAD_MODELS = {
    "data": [
        {
            "id": "gemma-3-270m",
            "path": "/m/gemma.gguf",
            "format": "gguf",
            "usable": True,
            "reason": None,
            "architecture": "gemma3",
            "parameters": 270_000_000,
            "quantization": "Q4_K_M",
            "context_length": 32768,
            "estimate_mib": 400,
            "loaded": True,
        }
    ]
}
GATEWAY_MODELS = {
    "object": "list",
    "data": [{"id": "local/gemma-3-270m", "object": "model", "owned_by": "local"}],
}
KEYS = {
    "data": [
        {
            "id": "k1",
            "name": "open",
            "models": None,
            "rpm": None,
            "tpm": None,
            "budget_usd": None,
            "period": None,
            "expires_at": None,
            "revoked": False,
            "created_at": "2026-01-01T00:00:00Z",
        },
        {
            "id": "k2",
            "name": "limited",
            "models": None,
            "rpm": 60,
            "tpm": None,
            "budget_usd": None,
            "period": None,
            "expires_at": None,
            "revoked": False,
            "created_at": "2026-01-01T00:00:00Z",
        },
        {
            "id": "k3",
            "name": "old",
            "models": None,
            "rpm": None,
            "tpm": None,
            "budget_usd": None,
            "period": None,
            "expires_at": None,
            "revoked": True,
            "created_at": "2026-01-01T00:00:00Z",
        },
    ]
}
AUDIT = {
    "data": [
        {
            "timestamp": "2026-11-21T10:00:00Z",
            "request_id": "r1",
            "event_type": "request",
            "key_id": "k1",
            "key_name": "open",
            "client_ip": "127.0.0.1",
            "provider": "local",
            "model": "local/gemma-3-270m",
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "cost_usd": 0.25,
            "duration_ms": 12.5,
            "status": 200,
            "error": None,
        }
    ]
}
SPEND = {
    "data": [
        {
            "key_id": "k1",
            "key_name": "open",
            "period": "monthly",
            "spent_usd": 0.25,
            "budget_usd": None,
        }
    ]
}


@dataclass
class Upstream:
    """A fake gateway+offload that speaks the contracts; ``mode`` injects faults."""

    port: int
    mode: str = "ok"
    requests: list[web.Request] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def build_app(upstream: Upstream) -> web.Application:
    routes = {
        "/health/vram": (False, VRAM),
        "/models": (False, OFFLOAD_MODELS),
        "/v1/models": (False, GATEWAY_MODELS),
        "/admin/keys": (True, KEYS),
        "/admin/audit": (True, AUDIT),
        "/admin/spend": (True, SPEND),
        "/health": (False, {"status": "ok"}),
    }

    async def handle(request: web.Request) -> web.Response:
        upstream.requests.append(request)
        echoed = echo(upstream.mode, request.headers.get("Authorization", "none"))
        if echoed is not None:
            return echoed
        if upstream.mode == "500":
            return web.json_response({"error": {"message": "boom"}}, status=500)
        if upstream.mode == "slow":
            await asyncio.sleep(3)
        if upstream.mode == "bad-shape":
            return web.json_response({"data": [{"unexpected": True}]})
        admin, body = routes.get(request.path, (False, None))
        if body is None:
            return web.json_response({"error": {"message": "not found", "type": "x"}}, status=404)
        if admin and request.headers.get("Authorization") != f"Bearer {MASTER}":
            return web.json_response(
                {
                    "error": {
                        "message": "invalid master key",
                        "type": "auth",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
                status=401,
            )
        return web.json_response(body)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    return app


def echo(mode: str, authorization: str) -> web.Response | None:
    """Error answers that quote the credential the fake received, as careless servers do."""
    if mode == "echo-key":
        message = f"Incorrect API key provided: {authorization}. Check your key."
        return web.json_response({"error": {"message": message, "type": "auth"}}, status=401)
    if mode == "echo-key-cut":
        message = f"Incorrect API key provided: {authorization[7:27]}..."
        return web.json_response({"error": {"message": message, "type": "auth"}}, status=400)
    if mode == "echo-key-reason":
        return web.Response(status=400, reason=f"Refused {authorization}", text="not json")
    if mode.startswith("quote:"):
        message = f"upstream said: {mode.removeprefix('quote:')}"
        return web.json_response({"error": {"message": message, "type": "x"}}, status=400)
    return None


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream(port=free_port())
    runner = web.AppRunner(build_app(server))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", server.port).start()
    yield server
    await runner.cleanup()


@pytest.fixture
def stack_harness(upstream: Upstream, make_harness: Any) -> Any:
    """A server whose gateway and offload URLs point at the fake upstream (embeddings off, so
    the only requests the upstream sees are the tools')."""

    def make(extra: dict[str, Any] | None = None, **mcp: Any) -> Any:
        options = {"gateway_url": upstream.url, "offload_url": upstream.url, **mcp}
        settings = {"knowledge": {"embedding_model": "off"}, **(extra or {})}
        return make_harness(settings, **options)

    return make


@pytest.fixture
def harness_with_key(stack_harness: Any) -> Any:
    """Like ``stack_harness``, with the gateway master key set."""

    def make(key: str = MASTER, **mcp: Any) -> Any:
        return stack_harness({"gateway": {"master_key": key}}, **mcp)

    return make


async def test_vram_status_returns_gpus_and_loaded_models(stack_harness: Any) -> None:
    async with stack_harness() as h:
        status = await h.call("vram_status")
    assert status["gpus"][0]["free_mib"] == 5120
    assert status["loaded"][0]["model"] == "gemma-3-270m"


async def test_models_list_merges_offload_and_gateway(stack_harness: Any) -> None:
    async with stack_harness() as h:
        models = await h.call("models_list")
    assert models["offload"][0]["quantization"] == "Q4_K_M"
    assert models["gateway"][0]["id"] == "local/gemma-3-270m"
    assert models["errors"] == []


async def test_models_list_reports_a_down_service_but_keeps_the_other(
    stack_harness: Any, upstream: Upstream
) -> None:
    async with stack_harness(offload_url=f"http://127.0.0.1:{free_port()}") as h:
        models = await h.call("models_list")
    assert models["gateway"]
    assert "unreachable" in models["errors"][0]


async def test_audit_query_sends_filters_and_the_master_key(
    upstream: Upstream, harness_with_key: Any
) -> None:
    async with harness_with_key() as h:
        result = await h.call(
            "audit_query", model="local/gemma-3-270m", limit=5, since="2026-11-21T00:00:00Z"
        )
    audit_request = next(r for r in upstream.requests if r.path == "/admin/audit")
    assert audit_request.query["model"] == "local/gemma-3-270m"
    assert audit_request.query["limit"] == "5"
    assert audit_request.query["since"].startswith("2026-11-21T00:00:00")
    assert result["records"][0]["cost_usd"] == 0.25
    assert result["spend"][0]["spent_usd"] == 0.25
    assert result["total_cost_usd"] == 0.25


async def test_audit_query_without_a_master_key_asks_nobody(
    stack_harness: Any, upstream: Upstream
) -> None:
    async with stack_harness() as h:
        text = await h.error("audit_query")
    assert "no gateway master key" in text
    assert upstream.requests == []


async def test_audit_query_rejects_a_bad_time(harness_with_key: Any) -> None:
    async with harness_with_key() as h:
        assert "ISO 8601" in await h.error("audit_query", since="last tuesday")


async def test_wrong_master_key_gives_the_gateway_message(harness_with_key: Any) -> None:
    async with harness_with_key("sk-wrong-key-value") as h:
        text = await h.error("audit_query")
    assert "HTTP 401: invalid master key" in text
    assert "sk-wrong-key-value" not in text


async def test_server_errors_open_the_circuit_breaker(
    stack_harness: Any, upstream: Upstream
) -> None:
    upstream.mode = "500"
    async with stack_harness(breaker_failures=3) as h:
        errors = [await h.error("vram_status") for _ in range(3)]
        fourth = await h.error("vram_status")
    assert all("HTTP 500" in text for text in errors)
    assert "circuit open" in fourth
    assert len(upstream.requests) == 3


async def test_unreachable_service_is_a_clear_error(stack_harness: Any) -> None:
    async with stack_harness(offload_url=f"http://127.0.0.1:{free_port()}") as h:
        assert "is unreachable" in await h.error("vram_status")


async def test_slow_service_times_out(stack_harness: Any, upstream: Upstream) -> None:
    upstream.mode = "slow"
    async with stack_harness(http_timeout_s=0.3) as h:
        assert "TimeoutError" in await h.error("vram_status")


async def test_answer_off_contract_is_a_clear_error(stack_harness: Any, upstream: Upstream) -> None:
    upstream.mode = "bad-shape"
    async with stack_harness() as h:
        assert "does not match its contract" in await h.error("models_list", source="offload")


async def test_rate_limiter_refuses_bursts_beyond_its_budget(
    stack_harness: Any, upstream: Upstream
) -> None:
    async with stack_harness(http_rate_per_s=0.01, http_burst=2) as h:
        await h.call("vram_status")
        await h.call("vram_status")
        assert "rate limit" in await h.error("vram_status")
    assert len(upstream.requests) == 2


async def test_provider_test_reports_reachable_and_down_providers(
    stack_harness: Any, upstream: Upstream
) -> None:
    providers = [
        {
            "name": "up",
            "kind": "openai-compatible",
            "base_url": f"{upstream.url}/v1",
            "api_key": "sk-provider-secret",
        },
        {"name": "down", "kind": "ollama", "base_url": f"http://127.0.0.1:{free_port()}"},
    ]
    async with stack_harness({"providers": providers}) as h:
        result = await h.call("provider_test")
    by_name = {p["name"]: p for p in result["providers"]}
    assert by_name["up"]["reachable"] is True
    assert by_name["up"]["url"].endswith("/v1/models")
    assert by_name["down"]["reachable"] is False
    assert by_name["down"]["url"].endswith("/api/tags")
    assert all("Authorization" not in r.headers for r in upstream.requests)


async def test_provider_test_of_an_unknown_name_is_refused(stack_harness: Any) -> None:
    async with stack_harness() as h:
        assert "no provider named" in await h.error("provider_test", provider="nope")


async def test_config_validate_accepts_good_toml(stack_harness: Any) -> None:
    content = '[[providers]]\nname = "local"\nkind = "llamacpp"\n'
    async with stack_harness() as h:
        result = await h.call("provider_config_validate", content=content)
    assert result["valid"] is True
    assert result["providers"] == ["local"]


async def test_config_validate_names_the_bad_key(stack_harness: Any) -> None:
    content = '[gateway]\nport = "not a port"\nbogus = 1\n'
    async with stack_harness() as h:
        result = await h.call("provider_config_validate", content=content)
    assert result["valid"] is False
    assert any("gateway.port" in p for p in result["problems"])
    assert any("gateway.bogus" in p for p in result["problems"])


async def test_config_validate_reports_broken_toml(stack_harness: Any) -> None:
    async with stack_harness() as h:
        result = await h.call("provider_config_validate", content="[gateway\nport=")
    assert result["problems"][0].startswith("invalid TOML")


async def test_config_validate_reads_a_file(stack_harness: Any, tmp_path: Path) -> None:
    path = tmp_path / "securellm.toml"
    path.write_text("[gateway]\nport = 8200\n")
    async with stack_harness() as h:
        result = await h.call("provider_config_validate", path=str(path))
    assert result["valid"] is True


async def test_config_validate_of_a_missing_file_is_invalid(stack_harness: Any) -> None:
    async with stack_harness() as h:
        result = await h.call("provider_config_validate", path="/nonexistent/securellm.toml")
    assert result["valid"] is False


async def test_config_validate_wants_exactly_one_source(stack_harness: Any) -> None:
    async with stack_harness() as h:
        assert "exactly one" in await h.error("provider_config_validate")


@pytest.mark.parametrize("mode", ["echo-key", "echo-key-cut", "echo-key-reason"])
async def test_a_gateway_error_quoting_the_master_key_is_redacted(
    upstream: Upstream, harness_with_key: Any, mode: str
) -> None:
    upstream.mode = mode
    async with harness_with_key() as h:
        text = await h.error("audit_query")
    assert "answered HTTP 4" in text
    assert "[REDACTED]" in text
    assert MASTER not in text
    assert MASTER[:12] not in text


async def test_models_list_errors_quoting_the_master_key_are_redacted(
    upstream: Upstream, harness_with_key: Any
) -> None:
    upstream.mode = "echo-key"
    async with harness_with_key() as h:
        text = await h.error("models_list")
    assert "Incorrect API key provided" in text
    assert MASTER not in text


async def test_security_audit_notes_quoting_the_master_key_are_redacted(
    upstream: Upstream, harness_with_key: Any
) -> None:
    upstream.mode = "echo-key"
    async with harness_with_key() as h:
        result = await h.call("security_audit")
    assert any("Incorrect API key" in note for note in result["skipped"])
    assert MASTER not in repr(result)


async def test_a_provider_key_quoted_by_the_gateway_is_redacted(
    upstream: Upstream, stack_harness: Any
) -> None:
    provider_key = "plainproviderkeywithoutanyshape"
    upstream.mode = f"quote:{provider_key}"
    providers = [{"name": "p", "kind": "openai", "api_key": provider_key}]
    extra = {"gateway": {"master_key": MASTER}, "providers": providers}
    async with stack_harness(extra) as h:
        text = await h.error("audit_query")
    assert "upstream said: [REDACTED]" in text


async def test_the_password_in_an_unreachable_service_url_is_redacted(
    stack_harness: Any,
) -> None:
    url = f"http://admin:hunter2-password@127.0.0.1:{free_port()}"
    async with stack_harness(offload_url=url) as h:
        text = await h.error("vram_status")
    assert "is unreachable" in text
    assert "hunter2-password" not in text


async def test_the_log_file_never_holds_the_master_key_quoted_by_the_gateway(
    upstream: Upstream, tmp_path: Path
) -> None:
    """The real server process: its tool result and its mcp.log, not just the text."""
    upstream.mode = "echo-key"
    config = tmp_path / "securellm.toml"
    config.write_text(f'[mcp]\ngateway_url = "{upstream.url}"\noffload_url = "{upstream.url}"\n')
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "KNOWLEDGE_DB_PATH": str(tmp_path / "knowledge.db"),
        "SECURELLM_MASTER_KEY": MASTER,
        "DEBUG_TO_STDERR": "true",
    }
    command = [sys.executable, "-m", "securellm.mcp", "--config", str(config)]
    server = StdioServerParameters(command=command[0], args=command[1:], env=env)
    async with Client(server) as client:
        result = await client.call_tool("audit_query", {})
    text = " ".join(getattr(part, "text", "") for part in result.content)
    log = (tmp_path / "state" / "securellm" / "mcp.log").read_text()
    assert result.is_error
    assert "[REDACTED]" in text
    assert "Incorrect API key provided" in log
    assert MASTER not in text + log
