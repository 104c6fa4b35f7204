"""Settings: TOML + environment, secrets from env or files, errors that point at the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from securellm.core.config import ConfigError, load_settings

MINIMAL = """
[gateway]
host = "127.0.0.1"
port = 8100

[audit]
dir = "/var/log/securellm"
retention_days = 90

[[providers]]
name = "local"
kind = "openai-compatible"
base_url = "http://127.0.0.1:8080/v1"

[[aliases]]
name = "fast"
targets = ["deepseek/deepseek-chat", "local/gemma-3-270m"]
strategy = "fallback"

[[providers]]
name = "deepseek"
kind = "deepseek"

[offload]
host = "127.0.0.1"
port = 9000
model_dirs = ["/var/lib/ml-models/llamacpp/models"]
gpu = "auto"
simulated_vram_mib = 6144
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "securellm.toml"
    path.write_text(text)
    return path


def test_the_documented_minimal_config_is_accepted(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), env={})
    assert [p.name for p in settings.providers] == ["local", "deepseek"]
    assert settings.aliases[0].targets == ("deepseek/deepseek-chat", "local/gemma-3-270m")
    assert settings.offload.simulated_vram_mib == 6144


def test_no_config_gives_embedded_defaults_with_sqlite(tmp_path: Path) -> None:
    settings = load_settings(None, env={"XDG_DATA_HOME": str(tmp_path)})
    assert settings.gateway.host == "127.0.0.1" and settings.gateway.port == 8100
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert [p.name for p in settings.providers] == ["local"]


def test_config_path_comes_from_securellm_config(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("port = 8100", "port = 8111"))
    assert load_settings(None, env={"SECURELLM_CONFIG": str(path)}).gateway.port == 8111


def test_environment_overrides_nested_keys(tmp_path: Path) -> None:
    env = {"SECURELLM_GATEWAY__PORT": "8200", "SECURELLM_GATEWAY__HOST": "0.0.0.0"}
    settings = load_settings(write(tmp_path, MINIMAL), env=env)
    assert (settings.gateway.host, settings.gateway.port) == ("0.0.0.0", 8200)


def test_cloud_provider_is_added_by_default_when_its_key_is_set(tmp_path: Path) -> None:
    settings = load_settings(None, env={"DEEPSEEK_API_KEY": "sk-ds"})
    assert [p.name for p in settings.providers] == ["local", "deepseek"]


def test_preset_key_env_is_read_and_never_shown(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), env={"DEEPSEEK_API_KEY": "sk-ds-secret"})
    deepseek = settings.provider("deepseek")
    assert deepseek is not None and deepseek.api_key is not None
    assert deepseek.api_key.get_secret_value() == "sk-ds-secret"
    assert "sk-ds-secret" not in repr(settings) and "sk-ds-secret" not in str(settings)


def test_secret_is_read_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("sk-from-file\n")
    text = MINIMAL.replace('kind = "deepseek"', f'kind = "deepseek"\napi_key_file = "{secret}"')
    provider = load_settings(write(tmp_path, text), env={}).provider("deepseek")
    assert provider is not None and provider.api_key is not None
    assert provider.api_key.get_secret_value() == "sk-from-file"


def test_unreadable_secret_file_is_a_clear_error_without_the_secret(tmp_path: Path) -> None:
    text = MINIMAL.replace('kind = "deepseek"', 'kind = "deepseek"\napi_key_file = "/nope/key"')
    with pytest.raises(ConfigError, match="cannot read secret file /nope/key"):
        load_settings(write(tmp_path, text), env={})


def test_master_key_comes_from_securellm_master_key(tmp_path: Path) -> None:
    settings = load_settings(None, env={"SECURELLM_MASTER_KEY": "sk-master"})
    assert settings.gateway.master_key is not None
    assert settings.gateway.master_key.get_secret_value() == "sk-master"


def test_bad_value_names_the_key_and_its_line(tmp_path: Path) -> None:
    text = MINIMAL.replace('kind = "deepseek"', 'kind = "deepsek"')
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), env={})
    line = text.splitlines().index('kind = "deepsek"') + 1
    assert any(p.startswith(f"providers[1].kind (line {line})") for p in caught.value.problems)


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gateway.prot .*Extra inputs"):
        load_settings(write(tmp_path, MINIMAL.replace("port = 8100", "prot = 8100")), env={})


def test_invalid_toml_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(write(tmp_path, "[gateway\nport = 1"), env={})


def test_alias_to_an_unknown_provider_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL.replace('"deepseek/deepseek-chat"', '"nobody/x"')
    with pytest.raises(ConfigError, match="unknown provider 'nobody'"):
        load_settings(write(tmp_path, text), env={})


def test_duplicate_provider_names_are_an_error(tmp_path: Path) -> None:
    text = MINIMAL.replace('name = "deepseek"', 'name = "local"').replace(
        '"deepseek/deepseek-chat", ', ""
    )
    with pytest.raises(ConfigError, match="unique"):
        load_settings(write(tmp_path, text), env={})


def test_systemd_state_directory_is_the_data_dir(tmp_path: Path) -> None:
    env = {"STATE_DIRECTORY": "/var/lib/securellm", "LOGS_DIRECTORY": "/var/log/securellm"}
    settings = load_settings(None, env=env)
    assert settings.data_dir == Path("/var/lib/securellm")
    assert settings.audit_dir == Path("/var/log/securellm/audit")


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_a_price_that_is_not_finite_is_an_error(tmp_path: Path, value: str) -> None:
    # An infinite price made every budgeted request on the model a 500 (round(inf)).
    text = MINIMAL.replace(
        "port = 8100", f'port = 8100\n[gateway.prices."local/m"]\ninput = {value}'
    )
    with pytest.raises(ConfigError, match=r"gateway.prices.local/m.input"):
        load_settings(write(tmp_path, text), env={})
