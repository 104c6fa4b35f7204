"""The HTTP contract of the offload API (no model process needed for these routes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from securellm.core.config import Settings
from securellm.offload.api import create_app

from .conftest import TinyWriter

MODEL_KEYS = {
    "id", "path", "format", "usable", "reason", "architecture", "parameters", "quantization",
    "context_length", "estimate_mib", "loaded", "chat",
}  # fmt: skip


@pytest.fixture
def client(
    tmp_path: Path, tiny_gguf: TinyWriter, make_settings: Callable[..., Settings]
) -> Iterator[TestClient]:
    tiny_gguf(tmp_path / "models" / "tiny-Q8_0.gguf")
    settings = make_settings(model_dirs=[str(tmp_path / "models")], simulated_vram_mib=4096)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_health_vram_shape(client: TestClient) -> None:
    body = client.get("/health/vram").json()
    assert body["source"] == "simulated"
    assert body["gpus"] == [
        {"index": 0, "name": "Simulated GPU", "total_mib": 4096, "used_mib": 0, "free_mib": 4096}
    ]
    assert body["loaded"] == []


def test_models_entries_have_the_contract_keys(client: TestClient) -> None:
    [entry] = client.get("/models").json()["data"]
    assert set(entry) == MODEL_KEYS
    assert (entry["id"], entry["format"], entry["usable"]) == ("tiny", "gguf", True)


def test_scan_reports_what_changed(client: TestClient) -> None:
    assert client.post("/models/scan").json() == {
        "added": 0, "updated": 0, "unchanged": 1, "removed": 0, "unusable": 0,
    }  # fmt: skip


def test_v1_models_is_an_openai_list(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["tiny"]


def test_v1_models_gives_each_model_the_context_it_is_loaded_with(client: TestClient) -> None:
    entry = client.get("/v1/models").json()["data"][0]
    detail = client.get("/models/tiny").json()
    assert entry["context_length"] == detail["load_params"]["ctx"]
    assert entry["context_length"] > 0


def test_model_detail_has_the_estimate_breakdown(client: TestClient) -> None:
    detail = client.get("/models/tiny").json()
    assert set(detail["estimate"]) == {"weights", "kv", "compute", "output"}
    assert detail["measured"] is None


def test_unknown_model_detail_is_404(client: TestClient) -> None:
    response = client.get("/models/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_unloading_a_model_that_is_not_loaded_is_harmless(client: TestClient) -> None:
    assert client.post("/models/tiny/unload").json()["was_loaded"] is False


def test_pinning_a_model_that_is_not_loaded_is_409(client: TestClient) -> None:
    response = client.post("/models/tiny/pin", json={"pinned": True})
    assert response.status_code == 409
    assert "not loaded" in response.json()["error"]["message"]


def test_pinning_an_unknown_model_is_404(client: TestClient) -> None:
    assert client.post("/models/nope/pin", json={"pinned": True}).status_code == 404


def test_pin_with_a_pinned_that_is_not_a_boolean_is_400(client: TestClient) -> None:
    response = client.post("/models/tiny/pin", json={"pinned": "yes"})
    assert response.status_code == 400
    assert "pinned" in response.json()["error"]["message"]


def test_missing_model_field_is_400(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={"messages": []})
    assert response.status_code == 400
    assert "model" in response.json()["error"]["message"]


def test_body_that_is_not_an_object_is_400(client: TestClient) -> None:
    assert client.post("/v1/completions", json=[1, 2]).status_code == 400


def test_mode_with_bad_body_is_400(client: TestClient) -> None:
    response = client.post("/mode", json={"mode": "turbo"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_route_is_404_in_openai_shape(client: TestClient) -> None:
    response = client.get("/v2/whatever")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    response = client.get("/metrics")
    assert "offload_vram_total_mib 4096.0" in response.text


def test_chat_without_messages_is_400_before_any_load(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={"model": "tiny"})
    assert response.status_code == 400
    assert "'messages'" in response.json()["error"]["message"]
    assert client.get("/health/vram").json()["loaded"] == []


def test_chat_messages_that_are_not_objects_are_400(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={"model": "tiny", "messages": ["hi"]})
    assert response.status_code == 400


def test_completion_without_prompt_is_400(client: TestClient) -> None:
    response = client.post("/v1/completions", json={"model": "tiny"})
    assert response.status_code == 400
    assert "'prompt'" in response.json()["error"]["message"]


def test_wrong_method_is_405_naming_the_allowed_ones(client: TestClient) -> None:
    response = client.put("/models/scan")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_model_without_a_chat_template_is_listed_with_the_reason(client: TestClient) -> None:
    [entry] = client.get("/models").json()["data"]
    assert entry["chat"]["source"] is None
    assert "tokenizer.chat_template" in entry["chat"]["reason"]


def test_a_chat_with_a_model_that_cannot_chat_is_422_before_any_load(client: TestClient) -> None:
    body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "no_chat_template"
    assert client.get("/health/vram").json()["loaded"] == []


def test_requests_for_unknown_models_leave_no_queue_behind(client: TestClient) -> None:
    for name in ("nope-1", "nope-2"):
        body = {"model": name, "prompt": "hi"}
        assert client.post("/v1/completions", json=body).status_code == 404
    admission = client.app.state.service.admission  # type: ignore[attr-defined]
    assert admission.existing("nope-1") is None and admission.existing("nope-2") is None
