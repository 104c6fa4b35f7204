"""The overview at /ui/ and its live fragment /ui/api/overview (httpx, real gateway)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from support.audit_rows import audit_row
from support.dashboard import sign_in
from support.dashboard_overview import (
    Served,
    chat,
    figure,
    gateway_with_upstream,
    overview_once_indexed,
    table_rows,
    write_rows,
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with gateway_with_upstream(tmp_path) as gateway:
        yield gateway


@pytest.fixture
def client(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=30) as c:
        sign_in(c)
        yield c


def test_an_empty_trail_renders_zeros_and_says_so(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    reply = client.get("/ui/")
    assert reply.status_code == 200
    assert figure(reply.text, "requests") == "0"
    assert figure(reply.text, "spend") == "$0.0000"
    assert figure(reply.text, "cache") == "no requests"
    assert "No requests in this window." in reply.text
    for health in table_rows(reply.text, "health"):  # the default providers, never used
        assert (health[3], health[4], health[6]) == ("–", "–", "none")


@pytest.mark.parametrize("window", ["hour", "day", "month"])
def test_each_window_is_a_link_and_the_live_block_follows_it(
    ui: tuple[httpx.Client, str], window: str
) -> None:
    client, _ = ui
    reply = client.get("/ui/", params={"window": window})
    assert reply.status_code == 200
    assert f'href="/ui/?window={window}" aria-current="true"' in reply.text
    assert f'data-refresh="/ui/api/overview?window={window}"' in reply.text


def test_an_unknown_window_is_a_400_page(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    reply = client.get("/ui/", params={"window": "year"})
    assert reply.status_code == 400
    assert "window must be one of hour, day, month" in reply.text
    assert "text/html" in reply.headers["content-type"]


def test_the_fragment_refuses_an_unknown_window_with_a_json_400(
    ui: tuple[httpx.Client, str],
) -> None:
    client, _ = ui
    reply = client.get("/ui/api/overview", params={"window": "<b>"})
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "window"


def test_the_fragment_needs_a_session(gateway_url: str) -> None:
    reply = httpx.get(f"{gateway_url}/ui/api/overview")
    assert reply.status_code == 401


def test_the_fragment_is_the_live_block_without_the_layout(ui: tuple[httpx.Client, str]) -> None:
    client, _ = ui
    reply = client.get("/ui/api/overview", params={"window": "hour"})
    assert reply.status_code == 200
    assert figure(reply.text, "requests") == "0"
    assert "<nav" not in reply.text and "<html" not in reply.text


def test_figures_match_requests_made_through_the_gateway(
    served: Served, client: httpx.Client
) -> None:
    assert [chat(served.url), chat(served.url), chat(served.url, "fake/error-500")] == [
        200,
        200,  # the same request again: answered from the cache
        502,
    ]
    html = overview_once_indexed(client, "hour", 3)
    assert figure(html, "requests") == "3"
    assert figure(html, "errors") == "1"
    assert figure(html, "spend") == "$0.0400"
    assert figure(html, "cache") == "33.3% (1)"
    assert table_rows(html, "provider") == [["fake", "3", "1", "8", "$0.0400"]]
    assert [row[0] for row in table_rows(html, "model")] == ["fake/echo", "fake/error-500"]
    [health] = table_rows(html, "health")
    assert health[:3] == ["fake", "closed", "0"]
    assert "502" in health[6] and "returned 500" in health[6]


def test_a_record_two_hours_old_counts_in_the_day_but_not_the_hour(
    served: Served, client: httpx.Client
) -> None:
    write_rows(served.settings, [audit_row(time.time() - 7200, cost_usd=1.5, total_tokens=9)])
    hour = client.get("/ui/api/overview", params={"window": "hour"}).text
    day = client.get("/ui/api/overview", params={"window": "day"}).text
    assert figure(hour, "requests") == "0"
    assert (figure(day, "requests"), figure(day, "tokens"), figure(day, "spend")) == (
        "1",
        "9",
        "$1.50",
    )


def test_a_record_ten_days_old_counts_only_in_the_month(
    served: Served, client: httpx.Client
) -> None:
    write_rows(served.settings, [audit_row(time.time() - 10 * 86400)])
    assert figure(client.get("/ui/?window=day").text, "requests") == "0"
    assert figure(client.get("/ui/?window=month").text, "requests") == "1"


def test_per_key_rows_name_keys_and_escape_what_was_recorded(
    served: Served, client: httpx.Client
) -> None:
    now = time.time()
    write_rows(
        served.settings,
        [
            audit_row(now - 60, key_id="key-x", key_name="<img src=x>", cost_usd=0.2),
            audit_row(now - 30, key_id="key-y", key_name="batch", cost_usd=0.1),
        ],
    )
    html = client.get("/ui/?window=hour").text
    assert [row[0] for row in table_rows(html, "key")] == ["&lt;img src=x&gt;", "batch"]
    assert "<img src=x>" not in html


def test_each_chart_has_a_title_and_the_same_figures_in_a_table(
    served: Served, client: httpx.Client
) -> None:
    chat(served.url)
    html = overview_once_indexed(client, "hour", 1)
    for chart, title in (
        ("chart-series", "Requests and errors, last hour"),
        ("chart-key", "Spend per key"),
        ("chart-model", "Spend per model"),
        ("chart-provider", "Spend per provider"),
    ):
        assert f'<title id="{chart}-t">{title}</title>' in html
    assert "Requests and errors per interval" in html  # the series' table
    assert 'style="' not in html  # the CSP forbids inline styles
