"""nix/module.nix evaluated against a stub lib: what NixOS would get from it.

nixpkgs cannot be fetched here, so the module runs with tests/deploy/nix/stub.nix standing in
for `lib` and `pkgs`; the flake's `checks` evaluate it with the real nixpkgs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ConfigCheck = Callable[[str], subprocess.CompletedProcess[str]]
VENV = "/nix/store/00000000000000000000000000000000-venv"

ALL_ON: dict[str, Any] = {
    "gateway": {
        "enable": True,
        "masterKeyFile": "/run/secrets/master-key",
        "auditHmacKeyFile": "/run/secrets/audit-hmac-key",
        "providerKeyFiles": {"deepseek": "/run/secrets/deepseek"},
        "settings": {
            "providers": [{"name": "deepseek", "kind": "deepseek"}, {"name": "local"}],
            "aliases": [{"name": "fast", "targets": ["deepseek/deepseek-chat"]}],
        },
    },
    "offload": {"enable": True, "gpuUnits": ["ollama.service"]},
    "mcp": {"enable": True, "sharedUsers": ["alice", "bob"]},
}


def services(result: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = result["config"].get("systemd", {}).get("services", {})
    return found


@pytest.fixture(scope="module")
def all_on(nix: Any) -> dict[str, Any]:
    result: dict[str, Any] = nix.module(ALL_ON)
    return result


@pytest.mark.parametrize("component", ["gateway", "offload", "mcp"])
def test_rendered_toml_passes_config_check(
    all_on: dict[str, Any], config_check: ConfigCheck, component: str
) -> None:
    done = config_check(all_on["files"][f"securellm/{component}.toml"])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("example", "component"),
    [("laptop", "gateway"), ("laptop", "offload"), ("laptop", "mcp"), ("desktop", "offload")],
)
def test_example_machine_renders_a_config_that_passes_config_check(
    nix: Any, config_check: ConfigCheck, example: str, component: str
) -> None:
    done = config_check(nix.example(example)["files"][f"securellm/{component}.toml"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_nothing_enabled_defines_no_service_user_or_file(nix: Any) -> None:
    assert nix.module({})["config"] == {}


def test_only_the_enabled_component_gets_a_unit(nix: Any) -> None:
    assert set(services(nix.module({"mcp": {"enable": True}}))) == {"securellm-mcp"}


def test_firewall_stays_closed_by_default(all_on: dict[str, Any]) -> None:
    assert all_on["config"]["networking"]["firewall"]["allowedTCPPorts"] == []


def test_open_firewall_opens_that_component_port_only(nix: Any) -> None:
    result = nix.module(
        {"gateway": {"enable": True, "openFirewall": True}, "offload": {"enable": True}}
    )
    assert result["config"]["networking"]["firewall"]["allowedTCPPorts"] == [8100]


def test_services_listen_on_loopback_by_default(all_on: dict[str, Any]) -> None:
    files = all_on["files"]
    assert 'host = "127.0.0.1"' in files["securellm/gateway.toml"]
    assert 'host = "127.0.0.1"' in files["securellm/offload.toml"]
    assert (
        "--http 127.0.0.1:8300" in services(all_on)["securellm-mcp"]["serviceConfig"]["ExecStart"]
    )


def test_gateway_loads_each_secret_file_as_a_credential(all_on: dict[str, Any]) -> None:
    credentials = services(all_on)["securellm-gateway"]["serviceConfig"]["LoadCredential"]
    assert sorted(credentials) == [
        "audit_hmac_key:/run/secrets/audit-hmac-key",
        "master_key:/run/secrets/master-key",
        "provider-deepseek:/run/secrets/deepseek",
    ]


def test_rendered_config_holds_no_secret_source_path(all_on: dict[str, Any]) -> None:
    assert "/run/secrets" not in all_on["files"]["securellm/gateway.toml"]


def test_gateway_runs_as_a_dynamic_user_with_its_state_and_logs_dirs(
    all_on: dict[str, Any],
) -> None:
    config = services(all_on)["securellm-gateway"]["serviceConfig"]
    assert config["DynamicUser"] is True
    assert (config["StateDirectory"], config["LogsDirectory"]) == ("securellm", "securellm/gateway")


def test_execstart_runs_the_package_with_the_rendered_config(nix: Any) -> None:
    result = nix.module({"package": VENV, "gateway": {"enable": True}})
    exec_start = services(result)["securellm-gateway"]["serviceConfig"]["ExecStart"]
    assert exec_start.startswith(f"{VENV}/bin/securellm gateway --config /nix/store/")
    assert exec_start.endswith("-securellm-gateway.toml")


def test_offload_polkit_rule_names_exactly_the_gpu_units(all_on: dict[str, Any]) -> None:
    rule = all_on["config"]["security"]["polkit"]["extraConfig"]
    assert 'var units = ["ollama.service"];' in rule
    assert 'subject.user === "securellm-offload"' in rule


def test_no_polkit_rule_without_gpu_units(nix: Any) -> None:
    config = nix.module({"offload": {"enable": True}})["config"]
    assert config.get("security", {}).get("polkit", {}) == {}


def test_offload_gets_only_the_nvidia_devices(all_on: dict[str, Any]) -> None:
    config = services(all_on)["securellm-offload"]["serviceConfig"]
    assert config["DevicePolicy"] == "closed"
    assert all(entry.startswith("char-nvidia-") for entry in config["DeviceAllow"])


def test_offload_user_can_read_the_model_store(all_on: dict[str, Any]) -> None:
    user = all_on["config"]["users"]["users"]["securellm-offload"]
    assert user["extraGroups"] == ["ml-models"]


def test_mcp_shared_users_join_the_shared_group(all_on: dict[str, Any]) -> None:
    assert all_on["config"]["users"]["groups"]["mcp-shared"]["members"] == ["alice", "bob"]


def test_mcp_knowledge_base_path_is_exported_to_every_user(all_on: dict[str, Any]) -> None:
    variables = all_on["config"]["environment"]["variables"]
    assert variables["KNOWLEDGE_DB_PATH"] == "/var/lib/mcp-knowledge/knowledge.db"


def test_tmpfiles_create_the_model_store_and_the_shared_knowledge_dir(
    all_on: dict[str, Any],
) -> None:
    rules = all_on["config"]["systemd"]["tmpfiles"]["rules"]
    assert "d /var/lib/ml-models/llamacpp/models 2775 root ml-models - -" in rules
    assert "d /var/lib/mcp-knowledge 2770 securellm-mcp mcp-shared - -" in rules


@pytest.mark.parametrize("component", ["gateway", "offload", "mcp"])
def test_module_unit_has_the_hardening_of_the_plain_unit(
    all_on: dict[str, Any], units_dir: Path, component: str
) -> None:
    module = services(all_on)[f"securellm-{component}"]["serviceConfig"]
    plain = read_service_section(units_dir / f"securellm-{component}.service")
    shared = set(plain) & set(module) - {"ExecStart", "EnvironmentFile", "Environment"}
    assert {k: normalise(module[k]) for k in shared} == {k: plain[k] for k in shared}
    assert set(plain) - set(module) <= {"EnvironmentFile", "Environment"}


def read_service_section(path: Path) -> dict[str, list[str]]:
    """The [Service] settings of a unit file, each key with its list of values."""
    values: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key, []).extend(split_value(key, value))
    return values


def split_value(key: str, value: str) -> list[str]:
    if key == "RestrictAddressFamilies":
        return value.split()
    return ["true" if value == "yes" else "false" if value == "no" else value]


def normalise(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(item).lower() if isinstance(item, bool) else str(item) for item in items]


def test_a_misspelt_option_is_refused(nix: Any) -> None:
    with pytest.raises(nix.Error, match=r"services\.securellm\.offload\.gpuUnit does not exist"):
        nix.module({"offload": {"gpuUnit": ["ollama.service"]}})


def test_an_ill_typed_option_is_refused(nix: Any) -> None:
    with pytest.raises(nix.Error, match=r"services\.securellm\.gateway\.port is not of type port"):
        nix.module({"gateway": {"port": "8100"}})


def test_gateway_may_write_an_audit_dir_outside_its_logs_directory(nix: Any) -> None:
    result = nix.module({"gateway": {"enable": True, "settings": {"audit": {"dir": "/srv/audit"}}}})
    assert services(result)["securellm-gateway"]["serviceConfig"]["ReadWritePaths"] == [
        "/srv/audit"
    ]
