"""Query parameters of /admin/audit and /admin/spend: bad values are 400s, never a 500."""

from __future__ import annotations

import httpx2 as httpx
import pytest

from support.gateway import MASTER

ADMIN = {"Authorization": f"Bearer {MASTER}"}


@pytest.mark.parametrize(
    "query",
    [
        "status=%C2%B2",  # a superscript two: str.isdigit() says yes, int() says no
        "limit=%D9%A3",  # an Arabic-Indic three
        "status=99999999999999999999999",  # wider than any database integer
        "status=-1",
    ],
)
def test_an_integer_parameter_that_is_not_a_plain_integer_is_400(
    fake_gateway: str, query: str
) -> None:
    response = httpx.get(f"{fake_gateway}/admin/audit?{query}", headers=ADMIN)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == query.split("=")[0]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
@pytest.mark.parametrize("path", ["/admin/audit", "/admin/spend"])
def test_a_time_that_is_not_finite_is_400(fake_gateway: str, path: str, value: str) -> None:
    response = httpx.get(f"{fake_gateway}{path}?since={value}", headers=ADMIN)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "since"


def test_the_largest_database_integer_is_a_valid_status(fake_gateway: str) -> None:
    response = httpx.get(f"{fake_gateway}/admin/audit?status={2**63 - 1}", headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["data"] == []
