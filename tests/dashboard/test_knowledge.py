"""``/ui/knowledge`` over HTTP: the MCP knowledge base read through its own store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry
from support.dashboard import sign_in

Ui = tuple[httpx.Client, str]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    """The knowledge base where ``securellm mcp`` finds it: ``data_dir/knowledge.db``."""
    opened = KnowledgeStore(tmp_path / "data" / "knowledge.db")
    opened.open()
    opened.save(
        NewEntry(type="decision", title="Use WAL", content="SQLite in WAL mode", tags=("sqlite",))
    )
    opened.save(
        NewEntry(
            type="note", title="GPU notes", content="the H200 has 141 GB", tags=("gpu", "sqlite")
        )
    )
    yield opened
    opened.close()


@pytest.fixture
def kb(store: KnowledgeStore, gateway_url: str) -> Iterator[Ui]:
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        yield client, sign_in(client)


def test_without_a_database_the_page_says_there_is_none_yet(ui: Ui) -> None:
    client, _ = ui
    reply = client.get("/ui/knowledge")
    assert reply.status_code == 200
    assert "No knowledge base yet" in reply.text


def test_the_page_lists_every_entry_with_counts_per_type_and_tag(kb: Ui) -> None:
    client, _ = kb
    html = client.get("/ui/knowledge").text
    assert html.count("<tr data-entry=") == 2
    assert '<span data-type="decision">1</span>' in html
    assert '<span data-tag="sqlite">2</span>' in html


def test_a_keyword_search_finds_only_the_matching_entry(kb: Ui) -> None:
    client, _ = kb
    html = client.get("/ui/knowledge", params={"q": "H200"}).text
    assert html.count("<tr data-entry=") == 1
    assert "GPU notes" in html


def test_a_tag_filter_narrows_the_list(kb: Ui) -> None:
    client, _ = kb
    html = client.get("/ui/knowledge", params={"tag": "gpu"}).text
    assert html.count("<tr data-entry=") == 1


def test_an_unknown_type_is_a_400_page(kb: Ui) -> None:
    client, _ = kb
    reply = client.get("/ui/knowledge", params={"type": "poem"})
    assert reply.status_code == 400
    assert "type must be one of" in reply.text


def test_an_offset_that_is_not_a_number_is_a_400_page(kb: Ui) -> None:
    client, _ = kb
    assert client.get("/ui/knowledge", params={"offset": "x"}).status_code == 400


def test_one_entry_shows_its_content(kb: Ui, store: KnowledgeStore) -> None:
    client, _ = kb
    entry_id = store.recent(limit=10, type="note").entries[0].id
    reply = client.get(f"/ui/knowledge/{entry_id}")
    assert reply.status_code == 200
    assert "the H200 has 141 GB" in reply.text


def test_an_entry_that_does_not_exist_is_a_404_page(kb: Ui) -> None:
    client, _ = kb
    assert client.get("/ui/knowledge/999").status_code == 404


def test_an_entry_id_that_is_not_a_number_is_a_400_page(kb: Ui) -> None:
    client, _ = kb
    assert client.get("/ui/knowledge/abc").status_code == 400


def test_delete_removes_the_entry_from_the_store(kb: Ui, store: KnowledgeStore) -> None:
    client, csrf = kb
    entry_id = store.recent(limit=10, type="note").entries[0].id
    reply = client.post(f"/ui/knowledge/{entry_id}/delete", data={"csrf_token": csrf})
    assert reply.status_code == 303
    assert store.count() == 1
    assert f"Entry {entry_id} deleted." in client.get(reply.headers["location"]).text


def test_delete_without_the_csrf_token_is_403_and_keeps_the_entry(
    kb: Ui, store: KnowledgeStore
) -> None:
    client, _ = kb
    entry_id = store.recent(limit=10).entries[0].id
    assert client.post(f"/ui/knowledge/{entry_id}/delete", data={}).status_code == 403
    assert store.count() == 2


def test_deleting_an_entry_that_does_not_exist_is_a_404_page(kb: Ui) -> None:
    client, csrf = kb
    reply = client.post("/ui/knowledge/999/delete", data={"csrf_token": csrf})
    assert reply.status_code == 404
