"""nix/lib.nix: the builtins-only TOML renderer and the per-service settings."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CREDENTIALS = "/run/credentials/securellm-gateway.service"


def to_toml(nix: Any, value: Any) -> str:
    """Render a JSON-able value with lib.toTOML (the JSON goes in through builtins.fromJSON)."""
    literal = json.dumps(json.dumps(value))
    text: str = nix.expr(f"lib.toTOML (builtins.fromJSON {literal})")
    return text


def gateway(nix: Any, **arguments: Any) -> dict[str, Any]:
    literal = json.dumps(json.dumps({"host": "127.0.0.1", "port": 8100, **arguments}))
    result: dict[str, Any] = nix.expr(f"lib.gatewaySettings (builtins.fromJSON {literal})")
    return result


def test_toml_escapes_quotes_backslashes_control_characters_and_unicode(nix: Any) -> None:
    value = {"s": 'say "hi" \\ C:\\dir\n\ttab \x01 — ünï 🙂'}
    assert tomllib.loads(to_toml(nix, value)) == value


def test_toml_leaves_out_null_values(nix: Any) -> None:
    value = {"a": None, "b": 1, "t": {"c": None}, "l": [1, None, 2]}
    assert tomllib.loads(to_toml(nix, value)) == {"b": 1, "t": {}, "l": [1, 2]}


def test_toml_writes_lists_of_tables_with_their_sub_tables(nix: Any) -> None:
    value = {
        "providers": [
            {"name": "a", "headers": {"X-One": "1"}, "models": ["m1", "m2"]},
            {"name": "b", "nested": [{"k": 1}, {"k": 2}]},
        ]
    }
    assert tomllib.loads(to_toml(nix, value)) == value


def test_toml_quotes_keys_that_are_not_bare(nix: Any) -> None:
    value = {"t": {"a.b": 1, "with space": 2, "ü": 3, "": 4}}
    assert tomllib.loads(to_toml(nix, value)) == value


def test_toml_writes_empty_lists_and_inline_tables_inside_lists(nix: Any) -> None:
    value = {"empty": [], "mixed": [[1, 2], ["x"]], "inline": [1, {"not": "a table list"}]}
    assert tomllib.loads(to_toml(nix, value)) == value


# Nix strings are C strings: NUL cannot occur in them, so it is left out here.
characters = st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00")
keys = st.text(characters, max_size=8)
scalars = (
    st.booleans()
    | st.integers(min_value=-(2**62), max_value=2**62)
    | st.text(characters, max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, values, max_size=4))
def test_toml_round_trips_any_document(nix: Any, document: dict[str, Any]) -> None:
    assert tomllib.loads(to_toml(nix, document)) == document


def test_gateway_secrets_point_into_the_unit_credentials_directory(nix: Any) -> None:
    result = gateway(nix, masterKeyFile="/run/secrets/mk", auditHmacKeyFile="/run/secrets/hk")
    assert result["gateway"]["master_key_file"] == f"{CREDENTIALS}/master_key"
    assert result["audit"]["hmac_key_file"] == f"{CREDENTIALS}/audit_hmac_key"


def test_gateway_provider_key_file_goes_to_the_named_provider_only(nix: Any) -> None:
    providers = [{"name": "deepseek", "kind": "deepseek"}, {"name": "local"}]
    result = gateway(
        nix, settings={"providers": providers}, providerKeyFiles={"deepseek": "/run/secrets/ds"}
    )
    deepseek, local = result["providers"]
    assert deepseek["api_key_file"] == f"{CREDENTIALS}/provider-deepseek"
    assert "api_key_file" not in local


def test_gateway_key_file_for_an_unknown_provider_is_an_evaluation_error(nix: Any) -> None:
    with pytest.raises(nix.Error, match="providerKeyFiles names no provider"):
        gateway(nix, providerKeyFiles={"typo": "/run/secrets/x"})


def test_gateway_host_and_port_options_win_over_settings(nix: Any) -> None:
    result = gateway(nix, settings={"gateway": {"port": 1, "workers": 2}})
    assert result["gateway"] == {"host": "127.0.0.1", "port": 8100, "workers": 2}


def test_credentials_list_only_the_secrets_that_are_set(nix: Any) -> None:
    credentials = nix.expr(
        'lib.credentials (lib.gatewaySecrets { masterKeyFile = "/s/mk";'
        ' providerKeyFiles = { deepseek = "/s/ds"; }; })'
    )
    assert credentials == ["master_key:/s/mk", "provider-deepseek:/s/ds"]


def test_offload_gpu_units_come_from_the_option_only(nix: Any) -> None:
    result = nix.expr(
        'lib.offloadSettings { host = "127.0.0.1"; port = 9000; modelsRoot = "/m";'
        ' gpuUnits = [ "ollama.service" ];'
        ' settings.offload = { gpu_units = [ "other.service" ]; gpu = "nvml"; }; }'
    )
    assert result["offload"]["gpu_units"] == ["ollama.service"]
    assert result["offload"]["gpu"] == "nvml"


def test_offload_model_dirs_follow_the_models_root(nix: Any) -> None:
    result = nix.expr('lib.offloadSettings { host = "h"; port = 1; modelsRoot = "/srv/models"; }')
    assert result["offload"]["model_dirs"] == ["/srv/models/llamacpp/models"]
    assert result["offload"]["ollama_dir"] == "/srv/models/ollama/models"
    assert result["offload"]["huggingface_dir"] == "/srv/models/huggingface/hub"


def test_models_layout_is_the_seed_000_tree(nix: Any) -> None:
    layout = nix.expr('lib.modelsLayout "/var/lib/ml-models"')
    assert layout == [
        "/var/lib/ml-models",
        "/var/lib/ml-models/llamacpp",
        "/var/lib/ml-models/llamacpp/models",
        "/var/lib/ml-models/ollama",
        "/var/lib/ml-models/ollama/models",
        "/var/lib/ml-models/huggingface",
        "/var/lib/ml-models/huggingface/hub",
        "/var/lib/ml-models/cache",
    ]
