"""GET /openapi.json: a valid OpenAPI 3.1 document, in step with the routes the gateway serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest
from jsonschema import Draft202012Validator
from schemathesis.specs.openapi.definitions import OPENAPI_31

from securellm.core.openapi import documented_operations, route_operations
from securellm.gateway.app import create_app
from securellm.gateway.openapi import document
from securellm.gateway.routes.admin import KeyRequest
from support.gateway import MASTER, make_settings

Document = dict[str, Any]


@pytest.fixture(scope="module")
def spec() -> Document:
    loaded: Document = orjson.loads(document())
    return loaded


def _operation(spec: Document, method: str, path: str) -> Document:
    found: Document = spec["paths"][path][method.lower()]
    return found


def api_operations(tmp_path: Path) -> set[tuple[str, str]]:
    """The app's routes less the dashboard's HTML pages under ``/ui`` (not an API)."""
    routed = route_operations(create_app(make_settings(tmp_path, [])).routes)
    return {(method, path) for method, path in routed if not path.startswith("/ui")}


def test_every_route_of_the_app_is_documented(tmp_path: Path, spec: Document) -> None:
    routed = api_operations(tmp_path)
    missing = sorted(routed - documented_operations(spec))
    assert not missing, f"routes without an entry in gateway/openapi/operations.py: {missing}"


def test_every_documented_operation_is_routed(tmp_path: Path, spec: Document) -> None:
    routed = api_operations(tmp_path)
    extra = sorted(documented_operations(spec) - routed)
    assert not extra, f"documented operations the app does not route: {extra}"


def test_the_document_is_valid_openapi_3_1(spec: Document) -> None:
    errors = [e.message for e in Draft202012Validator(OPENAPI_31).iter_errors(spec)]
    assert errors == []
    assert spec["openapi"] == "3.1.0"


def test_every_component_is_a_valid_json_schema(spec: Document) -> None:
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_operation_ids_are_unique(spec: Document) -> None:
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_gateway_serves_the_document_without_a_key(gateway_for: Any, spec: Document) -> None:
    with gateway_for([]) as base:
        response = httpx.get(f"{base}/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == spec


def test_inference_and_admin_operations_need_a_key(spec: Document) -> None:
    for method, path in documented_operations(spec):
        if path.startswith(("/v1/", "/admin/")):
            security = _operation(spec, method, path)["security"]
            assert {"bearer": []} in security and {} not in security, (method, path)


def test_anthropic_routes_take_x_api_key_and_answer_anthropic_errors(spec: Document) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["apiKey"] == {**schemes["apiKey"], "in": "header", "name": "x-api-key"}
    operation = _operation(spec, "POST", "/v1/messages")
    assert operation["security"][0] == {"apiKey": []}
    refused = operation["responses"]["401"]["content"]["application/json"]["schema"]
    assert refused == {"$ref": "#/components/schemas/AnthropicError"}


def test_openai_routes_answer_openai_errors_with_the_statuses_they_use(spec: Document) -> None:
    responses = _operation(spec, "POST", "/v1/chat/completions")["responses"]
    statuses = {"200", "400", "401", "403", "404", "413", "422", "429", "431", "502", "503", "504"}
    assert set(responses) == statuses
    schema = responses["429"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/OpenAIError"}
    assert "retry-after" in responses["429"]["headers"]


def test_streaming_answers_are_documented_as_server_sent_events(spec: Document) -> None:
    for path in ("/v1/chat/completions", "/v1/completions", "/v1/messages"):
        content = _operation(spec, "POST", path)["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/event-stream"}, path


def test_key_creation_body_is_the_admin_api_model(spec: Document) -> None:
    body = _operation(spec, "POST", "/admin/keys")["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/KeyRequest"}
    component = spec["components"]["schemas"]["KeyRequest"]
    assert component["additionalProperties"] is False
    assert set(component["properties"]) == set(KeyRequest.model_fields)


def test_duplicate_key_names_are_documented_as_409(spec: Document) -> None:
    assert "409" in _operation(spec, "POST", "/admin/keys")["responses"]


def test_ops_endpoints_document_their_optional_key(spec: Document) -> None:
    for path in ("/metrics", "/ready"):
        operation = _operation(spec, "GET", path)
        assert operation["security"][0] == {}
        assert {"401", "403"} <= set(operation["responses"])
    assert _operation(spec, "GET", "/health")["security"] == []


def test_a_virtual_key_gets_the_documented_403_on_every_admin_operation(
    fake_gateway: str, spec: Document
) -> None:
    admin = {"Authorization": f"Bearer {MASTER}"}
    created = httpx.post(f"{fake_gateway}/admin/keys", headers=admin, json={"name": "app"})
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    for method, path in sorted(documented_operations(spec)):
        if not path.startswith("/admin/"):
            continue
        url = fake_gateway + path.replace("{key_id}", "app")
        response = httpx.request(method, url, headers=key, json={})
        assert response.status_code == 403, (method, path)
        assert "403" in _operation(spec, method, path)["responses"], (method, path)
