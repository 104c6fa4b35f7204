"""Schema fuzzing: every request schemathesis derives from /openapi.json is answered as documented.

A real gateway on a socket, in front of the OpenAI wire-format fake upstream, called with
the master key (breakers off, so a failing upstream does not turn later answers into
503s). Bounded and derandomised; the checks are listed in support/schema_fuzz.py: never
a 500, every status, content type and body as documented, keys enforced where declared.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import schemathesis
from schemathesis import Case
from schemathesis.config import SchemathesisConfig

from securellm.gateway.app import create_app
from securellm.gateway.openapi import document
from support.asgi_server import serve_app
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, make_settings
from support.schema_fuzz import FUZZ_CONFIG, OPERATION_TIMEOUT_S, no_internal_error, steer_model

AUTH = {"Authorization": f"Bearer {MASTER}"}
# Models of the fake upstream a generated request is pointed at (the rest stay as generated,
# mostly unknown names: the 404 path). "slow" and "rate-limited" are left out: they only wait
# (the gateway honours the upstream's Retry-After).
MODELS = ["fake/echo", "fake/tools", "fake/error-400", "fake/error-500", "fake/no-usage"]


@pytest.fixture(scope="module")
def gateway_url(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> Iterator[str]:
    url, _ = fake_upstream
    # No breaker: fake/error-500 would open it and turn every later answer into a 503.
    provider = {"name": "fake", "kind": "openai-compatible", "base_url": url,
                "api_key": UPSTREAM_KEY, "breaker": {"enabled": False}}  # fmt: skip
    settings = make_settings(Path(tmp_path_factory.mktemp("fuzz")), [provider])
    with serve_app(create_app(settings)) as base:
        yield base


# The document the gateway serves (test_openapi.py checks that it serves exactly this one).
schema = schemathesis.openapi.from_dict(
    orjson.loads(document()), config=SchemathesisConfig.from_str(FUZZ_CONFIG)
)


@pytest.mark.timeout(OPERATION_TIMEOUT_S)
@schema.parametrize()
def test_gateway_answers_generated_requests_as_its_document_says(
    case: Case, gateway_url: str
) -> None:
    steer_model(case, MODELS)
    case.call_and_validate(
        base_url=gateway_url, headers=AUTH, additional_checks=[no_internal_error]
    )
