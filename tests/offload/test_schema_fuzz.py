"""Schema fuzzing: every request schemathesis derives from offload's /openapi.json is answered
as documented.

A real offload on a socket with the simulated GPU, one tiny GGUF in its registry, and as
its "llama.cpp" the OpenAI wire-format fake (a real process offload spawns, health-checks,
proxies to and stops). No systemd units, so build mode only freezes the scheduler.
Bounded and derandomised like the gateway's run (see support/schema_fuzz.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import schemathesis
from schemathesis import Case
from schemathesis.config import SchemathesisConfig

from securellm.core.config import settings_from_mapping
from securellm.offload.api import create_app
from securellm.offload.api.openapi import document
from support import fake_model_server
from support.asgi_server import serve_app
from support.schema_fuzz import (
    FUZZ_CONFIG,
    OPERATION_TIMEOUT_S,
    no_internal_error,
    steer_model,
    steer_path,
)

from .conftest import write_tiny_gguf

MODEL = "tiny"


@pytest.fixture(scope="module")
def offload_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = Path(tmp_path_factory.mktemp("offload-fuzz"))
    write_tiny_gguf(root / "models" / f"{MODEL}-Q8_0.gguf")
    section = {
        "model_dirs": [str(root / "models")],
        "ollama_dir": None,
        "huggingface_dir": None,
        "include_bundled": False,
        "registry_path": str(root / "registry.db"),
        "gpu": "simulated",
        "simulated_vram_mib": 4096,
        "llamacpp_command": list(fake_model_server.command()),
        "load_timeout_s": 60,
        "gpu_units": [],
        "build_mode_wait_s": 0,
    }
    raw = {"data_dir": str(root / "data"), "state_dir": str(root / "state"),
           "log_dir": str(root / "log"), "offload": section}  # fmt: skip
    with serve_app(create_app(settings_from_mapping(raw, env={}))) as base:
        yield base


# The document offload serves (test_openapi.py checks that it serves exactly this one).
schema = schemathesis.openapi.from_dict(
    orjson.loads(document()), config=SchemathesisConfig.from_str(FUZZ_CONFIG)
)


@pytest.mark.timeout(OPERATION_TIMEOUT_S)
@schema.parametrize()
def test_offload_answers_generated_requests_as_its_document_says(
    case: Case, offload_url: str
) -> None:
    steer_model(case, [MODEL])
    steer_path(case, "model_id", [MODEL])
    if case.query and "follow" in case.query:  # following a loaded model's log never ends
        case.query["follow"] = "false"
    case.call_and_validate(base_url=offload_url, additional_checks=[no_internal_error])
