"""``/upstream/{model}/{path}``: URLs on the model server, refusals before any load."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from securellm.core.config import Settings
from securellm.offload.api import create_app
from securellm.offload.api.upstream import check_path, upstream_url
from securellm.offload.errors import BadRequest

from .conftest import TinyWriter


@pytest.fixture
def client(
    tmp_path: Path, tiny_gguf: TinyWriter, make_settings: Callable[..., Settings]
) -> Iterator[TestClient]:
    tiny_gguf(tmp_path / "models" / "tiny-Q8_0.gguf")
    settings = make_settings(model_dirs=[str(tmp_path / "models")])
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_the_path_is_taken_from_the_server_root_not_its_v1() -> None:
    assert upstream_url("http://127.0.0.1:9100/v1", "props", "") == "http://127.0.0.1:9100/props"
    assert upstream_url("http://127.0.0.1:9100/v1", "v1/models", "a=1") == (
        "http://127.0.0.1:9100/v1/models?a=1"
    )


@pytest.mark.parametrize("path", ["../etc", "a/../b", "./x", "a\\b"])
def test_dot_segments_and_backslashes_are_refused(path: str) -> None:
    with pytest.raises(BadRequest):
        check_path(path)


def test_an_unknown_model_is_404_before_anything_is_sent(client: TestClient) -> None:
    response = client.get("/upstream/nope/props")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_a_backslash_path_is_400_and_loads_nothing(client: TestClient) -> None:
    response = client.get("/upstream/tiny/a%5Cb")
    assert response.status_code == 400
    assert client.get("/health/vram").json()["loaded"] == []
