"""``/ui/models`` over HTTP: a real offload process (simulated GPU, tiny GGUF files), a host
that is down, and bad form input. Loading a real model is the browser test's story."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from tests.offload.conftest import write_tiny_gguf

from support.dashboard_models import gateway_with_hosts, signed_in
from support.offload_host import OffloadHost, prepare_registry, running
from support.require import free_port

Ui = tuple[httpx.Client, str]


@pytest.fixture(scope="module")
def offload(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OffloadHost]:
    """One real offload: a tiny (usable) GGUF and a broken file in its registry."""
    root = tmp_path_factory.mktemp("offload")
    tiny = write_tiny_gguf(root / "models" / "tiny-Q8_0.gguf")
    (root / "models" / "broken-Q4_K_M.gguf").write_bytes(b"GGUF not really")
    registry = prepare_registry(root / "registry.db", tiny)
    host = OffloadHost(root / "host", registry, vram_mib=4096)
    folder = f'model_dirs = ["{root / "models"}"]'
    host.config.write_text(host.config.read_text().replace("model_dirs = []", folder))
    with running(host) as started:
        yield started


@pytest.fixture
def ui(tmp_path: Path, offload: OffloadHost) -> Iterator[Ui]:
    """Signed in to a gateway with two offload hosts: ``gpu1`` (up) and ``gone`` (down)."""
    dead = f"http://127.0.0.1:{free_port()}"
    hosts = {"gpu1": offload.base, "gone": dead}
    with gateway_with_hosts(tmp_path, hosts) as url, signed_in(url) as signed:
        yield signed


def section(html: str, host: str) -> str:
    found = re.search(rf'<section class="host"[^>]*data-host="{host}".*?</section>', html, re.S)
    assert found is not None, f"no section for host {host}"
    return found.group(0)


def test_the_page_shows_the_simulated_gpu_with_all_its_memory_free(ui: Ui) -> None:
    client, _ = ui
    html = section(client.get("/ui/models").text, "gpu1")
    assert 'data-up="true"' in html
    assert "GPU 0 · Simulated GPU" in html
    assert "4096 MiB free of 4096 MiB" in html


def test_the_registry_lists_usable_models_with_a_load_button(ui: Ui) -> None:
    client, _ = ui
    html = section(client.get("/ui/models").text, "gpu1")
    row = re.search(r'<tr data-model="tiny">.*?</tr>', html, re.S)
    assert row is not None
    assert 'data-action="load"' in row.group(0)


def test_an_unusable_file_is_listed_with_the_reason(ui: Ui) -> None:
    client, _ = ui
    html = section(client.get("/ui/models").text, "gpu1")
    row = re.search(r'<tr data-model="broken[^"]*">.*?</tr>', html, re.S)
    assert row is not None
    assert "no: " in row.group(0)
    assert 'data-action="load"' not in row.group(0)


def test_the_build_mode_state_is_shown_with_its_switch(ui: Ui) -> None:
    client, _ = ui
    html = section(client.get("/ui/models").text, "gpu1")
    assert '<strong class="mode">local</strong>' in html
    assert 'name="mode" value="build"' in html


def test_a_host_that_is_down_shows_as_down_not_as_an_error_page(ui: Ui) -> None:
    client, _ = ui
    reply = client.get("/ui/models")
    assert reply.status_code == 200
    html = section(reply.text, "gone")
    assert 'data-up="false"' in html
    assert "does not answer" in html


def test_the_live_fragment_is_the_hosts_without_the_layout(ui: Ui) -> None:
    client, _ = ui
    reply = client.get("/ui/api/models")
    assert reply.status_code == 200
    assert 'data-host="gpu1"' in reply.text
    assert "<nav" not in reply.text


def test_the_live_fragment_without_a_session_is_401(ui: Ui, offload: OffloadHost) -> None:
    client, _ = ui
    reply = httpx.get(f"{client.base_url}/ui/api/models")
    assert reply.status_code == 401


def test_an_action_without_the_csrf_token_is_403(ui: Ui) -> None:
    client, _ = ui
    form = {"host": "gpu1", "model": "tiny", "action": "unload"}
    assert client.post("/ui/models/action", data=form).status_code == 403


def test_an_unknown_host_is_a_400_page(ui: Ui) -> None:
    client, csrf = ui
    form = {"csrf_token": csrf, "host": "nowhere", "model": "tiny", "action": "load"}
    reply = client.post("/ui/models/action", data=form)
    assert reply.status_code == 400
    assert "no offload host named" in reply.text


def test_an_unknown_action_is_a_400_page(ui: Ui) -> None:
    client, csrf = ui
    form = {"csrf_token": csrf, "host": "gpu1", "model": "tiny", "action": "explode"}
    reply = client.post("/ui/models/action", data=form)
    assert reply.status_code == 400
    assert "action must be one of" in reply.text


def test_a_model_id_with_a_path_in_it_is_a_400_page(ui: Ui) -> None:
    client, csrf = ui
    form = {"csrf_token": csrf, "host": "gpu1", "model": "../mode", "action": "load"}
    assert client.post("/ui/models/action", data=form).status_code == 400


def test_pinning_a_model_that_is_not_loaded_shows_the_hosts_refusal(ui: Ui) -> None:
    client, csrf = ui
    form = {"csrf_token": csrf, "host": "gpu1", "model": "tiny", "action": "pin"}
    reply = client.post("/ui/models/action", data=form)
    assert reply.status_code == 409
    assert "not loaded" in reply.text


def test_an_action_on_a_host_that_is_down_is_a_502_page(ui: Ui) -> None:
    client, csrf = ui
    form = {"csrf_token": csrf, "host": "gone", "model": "tiny", "action": "unload"}
    reply = client.post("/ui/models/action", data=form)
    assert reply.status_code == 502
    assert "unreachable" in reply.text


def test_unloading_a_model_that_is_not_loaded_redirects_back_with_what_was_done(ui: Ui) -> None:
    client, csrf = ui
    form = {"csrf_token": csrf, "host": "gpu1", "model": "tiny", "action": "unload"}
    reply = client.post("/ui/models/action", data=form)
    assert reply.status_code == 303
    assert client.get(reply.headers["location"]).text.count("Done: unload: tiny") == 1


def test_build_mode_switches_on_and_back_off(ui: Ui) -> None:
    client, csrf = ui
    for mode in ("build", "local"):
        reply = client.post(
            "/ui/models/action", data={"csrf_token": csrf, "host": "gpu1", "mode": mode}
        )
        assert reply.status_code == 303
        html = section(client.get("/ui/models").text, "gpu1")
        assert f'<strong class="mode">{mode}</strong>' in html


def test_the_log_of_a_model_never_loaded_is_an_empty_page(ui: Ui) -> None:
    client, _ = ui
    reply = client.get("/ui/models/log", params={"host": "gpu1", "model": "tiny"})
    assert reply.status_code == 200
    assert "Log of tiny on gpu1" in reply.text


def test_the_log_of_a_model_not_in_the_registry_is_a_404_page(ui: Ui) -> None:
    client, _ = ui
    reply = client.get("/ui/models/log", params={"host": "gpu1", "model": "missing"})
    assert reply.status_code == 404
    assert "not in the registry" in reply.text
