"""The audit page: filters, paging, one request's records, export and chain verification."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest

from support.dashboard import sign_in
from support.dashboard_overview import Served, chat, gateway_with_upstream
from support.gateway import MASTER

ROW = re.compile(r'<a href="/ui/audit/records/([^"]+)">')


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with gateway_with_upstream(tmp_path) as server:
        yield server


@pytest.fixture
def client(served: Served) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(base_url=served.url, timeout=30) as c:
        yield c, sign_in(c)


def rows_once_indexed(client: httpx.Client, count: int, **params: str) -> str:
    """The audit page once it lists ``count`` rows (the index is fed every 200 ms)."""
    deadline = time.monotonic() + 10
    while True:
        html = client.get("/ui/audit", params=params).text
        if len(ROW.findall(html)) >= count or time.monotonic() > deadline:
            return html
        time.sleep(0.05)


def exported_once_indexed(client: httpx.Client, count: int) -> None:
    """Wait until the index holds ``count`` records (counted through the export)."""
    deadline = time.monotonic() + 10
    while len(client.get("/ui/audit/export.jsonl").content.splitlines()) < count:
        assert time.monotonic() < deadline, f"{count} records never reached the index"
        time.sleep(0.05)


def test_the_table_lists_requests_made_through_the_gateway(
    served: Served, client: tuple[httpx.Client, str]
) -> None:
    chat(served.url, text="one")
    chat(served.url, text="two")
    html = rows_once_indexed(client[0], 2)
    assert len(ROW.findall(html)) == 2
    assert "fake/echo" in html or "echo" in html


def test_a_model_filter_shows_only_that_models_records(
    served: Served, client: tuple[httpx.Client, str]
) -> None:
    chat(served.url, text="good")
    assert chat(served.url, model="fake/no-such-model") == 404
    rows_once_indexed(client[0], 2)
    html = client[0].get("/ui/audit", params={"status": "404"}).text
    assert len(ROW.findall(html)) == 1
    assert '<td class="status">404</td>' in html


def test_a_bad_status_filter_is_a_400_page_naming_it(client: tuple[httpx.Client, str]) -> None:
    reply = client[0].get("/ui/audit", params={"status": "abc"})
    assert reply.status_code == 400
    assert "status must be an HTTP status code" in reply.text


def test_a_bad_time_filter_is_a_400_page_naming_it(client: tuple[httpx.Client, str]) -> None:
    reply = client[0].get("/ui/audit", params={"since": "yesterday-ish"})
    assert reply.status_code == 400
    assert "since:" in reply.text


def test_an_unknown_outcome_is_a_400_page(client: tuple[httpx.Client, str]) -> None:
    assert client[0].get("/ui/audit", params={"outcome": "maybe"}).status_code == 400


def test_more_than_a_page_of_records_links_to_the_older_ones(
    served: Served, client: tuple[httpx.Client, str]
) -> None:
    for i in range(53):
        chat(served.url, text=f"request {i}")
    exported_once_indexed(client[0], 53)
    first = client[0].get("/ui/audit").text
    older = re.search(r'<a rel="next" href="([^"]+)">', first)
    assert older is not None
    second = client[0].get(older.group(1).replace("&amp;", "&")).text
    first_ids, second_ids = set(ROW.findall(first)), set(ROW.findall(second))
    assert len(first_ids) == 50
    assert len(second_ids) == 3
    assert not first_ids & second_ids


def test_one_request_shows_every_field_of_its_record(
    served: Served, client: tuple[httpx.Client, str]
) -> None:
    chat(served.url)
    request_id = ROW.findall(rows_once_indexed(client[0], 1))[0]
    reply = client[0].get(f"/ui/audit/records/{request_id}")
    assert reply.status_code == 200
    assert "<dt>prompt_tokens</dt>" in reply.text
    assert request_id in reply.text


def test_an_unknown_request_id_is_a_404_page(client: tuple[httpx.Client, str]) -> None:
    reply = client[0].get("/ui/audit/records/req_nothing")
    assert reply.status_code == 404
    assert "No audit record" in reply.text


def test_export_as_json_lines_gives_every_filtered_record(
    served: Served, client: tuple[httpx.Client, str]
) -> None:
    for i in range(3):
        chat(served.url, text=f"n{i}")
    rows_once_indexed(client[0], 3)
    reply = client[0].get("/ui/audit/export.jsonl", params={"status": "200"})
    assert reply.headers["content-disposition"].startswith("attachment;")
    records = [orjson.loads(line) for line in reply.content.splitlines()]
    assert len(records) == 3
    assert {r["status"] for r in records} == {200}


def test_export_as_csv_neutralises_cells_a_spreadsheet_would_run(
    served: Served, client: tuple[httpx.Client, str]
) -> None:
    made = httpx.post(
        f"{served.url}/admin/keys",
        json={"name": "=HYPERLINK(1)"},
        headers={"authorization": f"Bearer {MASTER}"},
    ).json()
    body = {"model": "fake/echo", "messages": [{"role": "user", "content": "x"}]}
    headers = {"authorization": f"Bearer {made['key']}"}
    httpx.post(f"{served.url}/v1/chat/completions", json=body, headers=headers, timeout=30)
    rows_once_indexed(client[0], 2)  # the key's creation, then its request
    reply = client[0].get("/ui/audit/export.csv", params={"model": "fake/echo"})
    table = list(csv.DictReader(io.StringIO(reply.text)))
    assert [r["key_name"] for r in table] == ["'=HYPERLINK(1)"]


def test_an_unknown_export_format_is_404(client: tuple[httpx.Client, str]) -> None:
    assert client[0].get("/ui/audit/export.xlsx").status_code == 404


def test_verification_without_the_csrf_token_is_refused(client: tuple[httpx.Client, str]) -> None:
    assert client[0].post("/ui/audit/verify").status_code == 403


def verification(client: httpx.Client, csrf: str) -> str:
    client.post("/ui/audit/verify", data={"csrf_token": csrf})
    deadline = time.monotonic() + 20
    while True:
        text = client.get("/ui/api/audit/verify").text
        if "Verifying" not in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def test_verifying_an_untouched_trail_says_the_chain_is_intact(
    served: Served, client: tuple[httpx.Client, str]
) -> None:
    chat(served.url)
    rows_once_indexed(client[0], 1)
    assert "Chain intact: 1 record(s)" in verification(*client)


def test_verifying_an_edited_trail_names_the_broken_record(
    served: Served, client: tuple[httpx.Client, str]
) -> None:
    for i in range(3):
        chat(served.url, text=f"t{i}")
    rows_once_indexed(client[0], 3)
    path = max(served.settings.audit_dir.glob("audit-*.s*.jsonl"))
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"status":200', b'"status":201')
    path.write_bytes(b"".join(lines))
    text = verification(*client)
    assert "Chain broken" in text
    assert f"{path.name}:2: edited" in text


def test_the_verification_fragment_needs_a_session(served: Served) -> None:
    assert httpx.get(f"{served.url}/ui/api/audit/verify").status_code == 401
