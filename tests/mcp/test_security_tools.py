"""``security_audit`` and ``nix_blueprint``: config findings, gateway keys, the NixOS auditor."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from securellm.core.config import load_settings
from securellm.mcp.config_audit import is_loopback, static_findings
from support.require import free_port, missing

SECRET = "sk-inline-secret-value-123"

CONFIG = f"""
[gateway]
master_key = "{SECRET}-master"

[[providers]]
name = "remote"
kind = "openai-compatible"
base_url = "http://10.1.2.3:8080/v1"
api_key = "{SECRET}"

[[providers]]
name = "local"
kind = "llamacpp"
base_url = "http://127.0.0.1:8080/v1"

[[providers]]
name = "cloud"
kind = "openai"
api_key_env = "OPENAI_KEY_FOR_TEST"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "securellm.toml"
    path.write_text(
        CONFIG + f'\n[mcp]\nknowledge_db_path = "{tmp_path / "k.db"}"\n'
        f'gateway_url = "http://127.0.0.1:{free_port()}"\n'
    )
    return path


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("10.0.0.1", False),
        ("example.com", False),
        (None, False),
    ],
)
def test_loopback_detection(host: str | None, local: bool) -> None:
    assert is_loopback(host) is local


def test_static_findings_flag_inline_secrets_and_plain_http(config_file: Path) -> None:
    settings = load_settings(config_file, env={})
    findings = {(f.rule, f.location) for f in static_findings(settings)}
    assert ("inline-secret", "providers[remote].api_key") in findings
    assert ("inline-secret", "gateway.master_key") in findings
    assert ("provider-plain-http", "providers[remote].base_url") in findings
    assert not any("local" in location for _, location in findings)
    assert not any("cloud" in location for _, location in findings)


def test_exposed_gateway_without_tls_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[gateway]\nhost = "0.0.0.0"\n')
    findings = static_findings(load_settings(path, env={}))
    assert [f.rule for f in findings] == ["gateway-exposed-without-tls"]


async def _serve_keys(port: int, body: dict[str, Any]) -> web.AppRunner:
    async def keys(request: web.Request) -> web.Response:
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/admin/keys", keys)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def test_security_audit_reports_findings_without_leaking_secrets(make_harness: Any) -> None:
    port = free_port()
    keys = {
        "data": [
            {
                "id": "k1",
                "name": "open",
                "rpm": None,
                "tpm": None,
                "budget_usd": None,
                "revoked": False,
            },
            {
                "id": "k2",
                "name": "revoked",
                "rpm": None,
                "tpm": None,
                "budget_usd": None,
                "revoked": True,
            },
        ]
    }
    runner = await _serve_keys(port, keys)
    extra = {
        "gateway": {"master_key": SECRET},
        "providers": [
            {
                "name": "remote",
                "kind": "openai-compatible",
                "base_url": "http://192.168.1.9/v1",
                "api_key": SECRET,
            }
        ],
    }
    try:
        async with make_harness(extra, gateway_url=f"http://127.0.0.1:{port}") as h:
            result = await h.client.call_tool("security_audit", {})
    finally:
        await runner.cleanup()
    assert not result.is_error
    rules = [(f["rule"], f["location"]) for f in result.structured_content["config_findings"]]
    assert ("key-without-limits", "gateway key 'open' (k1)") in rules
    assert ("provider-plain-http", "providers[remote].base_url") in rules
    assert not any("revoked" in location for _, location in rules)
    assert SECRET not in result.model_dump_json()


async def test_security_audit_notes_an_unreachable_gateway(make_harness: Any) -> None:
    extra = {"gateway": {"master_key": SECRET}}
    async with make_harness(extra, gateway_url=f"http://127.0.0.1:{free_port()}") as h:
        result = await h.call("security_audit")
    assert any("unreachable" in note for note in result["skipped"])


async def test_security_audit_min_severity_filters_findings(make_harness: Any) -> None:
    extra = {"gateway": {"host": "0.0.0.0"}}
    async with make_harness(extra) as h:
        everything = await h.call("security_audit")
        high_only = await h.call("security_audit", min_severity="high")
    assert everything["counts"]["medium"] == 1
    assert high_only["config_findings"] == []


async def test_security_audit_of_a_missing_path_is_refused(make_harness: Any) -> None:
    async with make_harness() as h:
        assert "does not exist" in await h.error("security_audit", path="/no/such/repo")


async def test_security_audit_without_the_auditor_says_so(
    make_harness: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "securellm.nixaudit", None)
    async with make_harness() as h:
        text = await h.error("security_audit", path=str(tmp_path))
    assert "NixOS auditor (securellm.nixaudit) is not available" in text


async def test_blueprint_without_the_auditor_says_so(
    make_harness: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "securellm.nixaudit", None)
    async with make_harness() as h:
        text = await h.error("nix_blueprint", path=str(tmp_path))
    assert "not available" in text


async def test_blueprint_refuses_a_file_path(make_harness: Any, tmp_path: Path) -> None:
    target = tmp_path / "file.nix"
    target.write_text("{ }")
    async with make_harness() as h:
        assert "is not a directory" in await h.error("nix_blueprint", path=str(target))


async def test_blueprint_refuses_control_characters(make_harness: Any) -> None:
    async with make_harness() as h:
        assert "control characters" in await h.error("nix_blueprint", path="/tmp\n/x")


INSECURE_NIXOS = """{ config, pkgs, ... }:
{
  services.openssh.enable = true;
  services.openssh.settings.PermitRootLogin = "yes";
}
"""


def _nixaudit_or_missing() -> None:
    try:
        import securellm.nixaudit  # noqa: F401
    except ImportError:
        missing("securellm.nixaudit (the NixOS auditor)")


async def test_security_audit_runs_the_nixos_auditor_on_a_repository(
    make_harness: Any, tmp_path: Path
) -> None:
    _nixaudit_or_missing()
    repo = tmp_path / "nixos"
    repo.mkdir()
    (repo / "configuration.nix").write_text(INSECURE_NIXOS)
    async with make_harness() as h:
        result = await h.call("security_audit", path=str(repo))
    rules = [f["rule_id"] for f in result["nix_report"]["findings"]]
    assert "ssh-root-login" in rules
    assert result["counts"]["high"] >= 1


async def test_blueprint_describes_a_repository(make_harness: Any, tmp_path: Path) -> None:
    _nixaudit_or_missing()
    repo = tmp_path / "nixos"
    repo.mkdir()
    (repo / "configuration.nix").write_text(INSECURE_NIXOS)
    async with make_harness() as h:
        result = await h.call("nix_blueprint", path=str(repo))
    assert result["blueprint"].startswith("#")
