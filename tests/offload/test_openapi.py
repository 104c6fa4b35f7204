"""GET /openapi.json on offload: a valid OpenAPI 3.1 document, in step with offload's routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from schemathesis.specs.openapi.definitions import OPENAPI_31
from starlette.testclient import TestClient

from securellm.core.config import Settings
from securellm.core.openapi import documented_operations, route_operations
from securellm.offload.api import create_app
from securellm.offload.api.openapi import document

Document = dict[str, Any]


@pytest.fixture(scope="module")
def spec() -> Document:
    loaded: Document = orjson.loads(document())
    return loaded


@pytest.fixture
def routed(make_settings: Callable[..., Settings]) -> set[tuple[str, str]]:
    return route_operations(create_app(make_settings()).routes)


def test_every_route_of_offload_is_documented(routed: set[tuple[str, str]], spec: Document) -> None:
    missing = sorted(routed - documented_operations(spec))
    assert not missing, f"routes without an entry in offload/api/openapi.py: {missing}"


def test_every_documented_operation_is_routed(routed: set[tuple[str, str]], spec: Document) -> None:
    extra = sorted(documented_operations(spec) - routed)
    assert not extra, f"documented operations offload does not route: {extra}"


def test_the_document_is_valid_openapi_3_1(spec: Document) -> None:
    assert [e.message for e in Draft202012Validator(OPENAPI_31).iter_errors(spec)] == []
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_offload_serves_the_document(
    make_settings: Callable[..., Settings], spec: Document
) -> None:
    with TestClient(create_app(make_settings())) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == spec


def test_loading_documents_every_refusal_the_scheduler_gives(spec: Document) -> None:
    responses = spec["paths"]["/models/{model_id}/load"]["post"]["responses"]
    assert set(responses) == {"200", "404", "409", "422", "502", "503", "504", "507"}
    assert responses["507"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_offload_operations_need_no_key(spec: Document) -> None:
    assert "securitySchemes" not in spec["components"]
    assert all(op["security"] == [] for item in spec["paths"].values() for op in item.values())
