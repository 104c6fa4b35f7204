"""The audit page: filters, pages, one record's detail, bad input as a clear 400/404."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import httpx2 as httpx
import orjson

from support.dashboard_audit import fill

ROW = re.compile(r'<tr class="audit-row">(.*?)</tr>', re.S)
DETAIL = re.compile(r'href="/ui/audit/(\d+)"')


def rows(html: str) -> list[str]:
    return ROW.findall(html)


def test_table_lists_records_newest_first(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    fill(client, ["alpha", "beta"])
    reply = client.get("/ui/audit")
    assert reply.status_code == 200
    chats = [r for r in rows(reply.text) if ">chat<" in r]
    assert ["beta" in chats[0], "alpha" in chats[1]] == [True, True]


def test_model_filter_shows_only_matching_rows(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    fill(client, ["alpha", "beta", "alpha"])
    found = rows(client.get("/ui/audit", params={"model": "alpha"}).text)
    assert len(found) == 2
    assert all('class="model">alpha<' in r for r in found)


def test_status_filter_shows_only_matching_rows(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    fill(client, ["alpha"])
    statuses = {
        re.search(r'class="status">(\d+)<', r).group(1) for r in rows(client.get("/ui/audit").text)
    }  # type: ignore[union-attr]
    for status in statuses:
        found = rows(client.get("/ui/audit", params={"status": status}).text)
        assert found and all(f'class="status">{status}<' in r for r in found)


def test_pages_follow_the_older_link_without_repeats(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    fill(client, [f"m{i}" for i in range(55)])
    first = client.get("/ui/audit", params={"outcome": "refused"})
    ids = DETAIL.findall(first.text)
    link = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert len(ids) == 50 and link is not None
    second = client.get(link.group(1).replace("&amp;", "&"))
    more = DETAIL.findall(second.text)
    assert more and not set(ids) & set(more)


def test_bad_filter_is_a_400_page_that_says_why(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    for params in ({"status": "abc"}, {"since": "yesterday-ish"}, {"before": "-1"}):
        reply = client.get("/ui/audit", params=params)
        assert reply.status_code == 400
        assert 'role="alert"' in reply.text


def test_detail_shows_the_index_row_and_its_journal_record(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    fill(client, ["alpha"])
    row_id = DETAIL.findall(client.get("/ui/audit", params={"model": "alpha"}).text)[0]
    reply = client.get(f"/ui/audit/{row_id}")
    assert reply.status_code == 200
    assert '"prev_hash"' in reply.text and '"model": "alpha"' in reply.text
    assert "Content was not logged" in reply.text


def test_unknown_record_is_a_404_page(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    for row_id in ("999999", "abc", "9" * 40):
        reply = client.get(f"/ui/audit/{row_id}")
        assert reply.status_code == 404
        assert "No such audit record" in reply.text


def test_jsonl_export_streams_every_matching_record(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    fill(client, [f"m{i}" for i in range(60)] + ["alpha"])
    reply = client.get("/ui/audit/export.jsonl", params={"outcome": "refused"})
    assert reply.status_code == 200
    assert reply.headers["content-disposition"] == 'attachment; filename="audit.jsonl"'
    models = [orjson.loads(line)["model"] for line in reply.content.splitlines()]
    assert len(models) == 61 and "alpha" in models


def test_csv_export_has_the_columns_and_only_matching_rows(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    fill(client, ["alpha", "beta"])
    reply = client.get("/ui/audit/export.csv", params={"model": "beta"})
    assert reply.headers["content-disposition"] == 'attachment; filename="audit.csv"'
    table = list(csv.DictReader(io.StringIO(reply.text)))
    assert [row["model"] for row in table] == ["beta"]


def test_csv_export_defuses_cells_that_look_like_formulas(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    fill(client, ["=HYPERLINK(1)", "@evil", "-2+3"])
    table = list(csv.DictReader(io.StringIO(client.get("/ui/audit/export.csv").text)))
    models = {row["model"] for row in table if row["endpoint"] == "chat"}
    assert models == {"'=HYPERLINK(1)", "'@evil", "'-2+3"}


def test_export_with_a_bad_filter_is_a_400(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    assert client.get("/ui/audit/export.csv", params={"status": "x"}).status_code == 400
    assert client.get("/ui/audit/export.xml").status_code == 404


def verify_until_done(client: httpx.Client, csrf: str) -> str:
    started = client.post("/ui/api/audit/verify", headers={"x-csrf-token": csrf})
    assert started.status_code in (202, 409)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = client.get("/ui/api/audit/verify").text
        if "Verifying" not in text and "No verification" not in text:
            return text
        time.sleep(0.05)
    raise AssertionError("the verification never finished")


def test_verify_reports_an_intact_chain(ui: tuple[httpx.Client, str]) -> None:
    client, csrf = ui
    fill(client, ["alpha", "beta"])
    assert "Chain intact" in verify_until_done(client, csrf)


def test_verify_reports_a_tampered_record_at_its_line(
    ui: tuple[httpx.Client, str], tmp_path: Path
) -> None:
    client, csrf = ui
    fill(client, ["alpha", "beta"])
    path = max((tmp_path / "log" / "audit").glob("audit-*.jsonl"))
    content = path.read_bytes().splitlines(keepends=True)
    line = next(i for i, raw in enumerate(content) if b'"model":"beta"' in raw)
    content[line] = content[line].replace(b'"model":"beta"', b'"model":"bett"')
    path.write_bytes(b"".join(content))
    text = verify_until_done(client, csrf)
    assert f"{path.name} line {line + 1} (edited" in text


def test_verify_needs_the_csrf_token(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    assert client.post("/ui/api/audit/verify").status_code == 403


def test_verify_from_the_plain_form_returns_to_the_page(ui: tuple[httpx.Client, str]) -> None:
    client, csrf = ui
    reply = client.post("/ui/api/audit/verify", data={"csrf_token": csrf})
    assert (reply.status_code, reply.headers["location"]) == (303, "/ui/audit")
