"""The ``[offload]`` settings section."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from securellm.core.config import OffloadSettings


def test_defaults_follow_the_seed_layout() -> None:
    settings = OffloadSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 9000)
    assert settings.gpu_units == ("llamacpp.service", "ollama.service")
    assert "{model}" in settings.llamacpp_command


def test_command_template_accepts_llama_server() -> None:
    argv = ("llama-server", "-m", "{model}", "--port", "{port}", "-c", "{ctx}", "-ngl", "{ngl}")
    assert OffloadSettings(llamacpp_command=argv).llamacpp_command == argv


def test_unknown_placeholder_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown placeholder"):
        OffloadSettings(llamacpp_command=("llama-server", "-m", "{model}", "--port", "{prot}"))


def test_command_without_port_is_rejected() -> None:
    with pytest.raises(ValidationError, match="must contain"):
        OffloadSettings(llamacpp_command=("llama-server", "-m", "{model}"))


def test_model_policy_defaults_when_not_configured() -> None:
    settings = OffloadSettings(models=({"id": "a", "pinned": True},))  # type: ignore[arg-type]
    assert settings.policy("a").pinned
    assert not settings.policy("b").pinned


def test_unknown_key_is_an_error() -> None:
    with pytest.raises(ValidationError):
        OffloadSettings(gpus="simulated")  # type: ignore[call-arg]
