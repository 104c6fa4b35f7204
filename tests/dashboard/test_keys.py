"""The keys page: list, create (secret once), duplicate names, revoke, regenerate."""

from __future__ import annotations

import re

import httpx2 as httpx

from support.gateway import MASTER

Ui = tuple[httpx.Client, str]
SECRET = re.compile(r'<code id="new-secret">(sk-sl-[^<]+)</code>')


def _create(ui: Ui, **fields: str) -> httpx.Response:
    client, csrf = ui
    return client.post("/ui/keys", data={"csrf_token": csrf, "name": "laptop", **fields})


def _listed(base: str) -> list[dict[str, object]]:
    reply = httpx.get(f"{base}/admin/keys", headers={"authorization": f"Bearer {MASTER}"})
    data: list[dict[str, object]] = reply.json()["data"]
    return data


def test_creating_a_key_shows_its_secret_once_with_a_copy_button(ui: Ui) -> None:
    reply = _create(ui, rpm="60")
    found = SECRET.search(reply.text)
    assert reply.status_code == 200 and found is not None
    assert 'data-copy="#new-secret"' in reply.text
    assert found.group(1) not in ui[0].get("/ui/keys").text


def test_a_created_key_is_listed_with_its_id_and_limits(ui: Ui, gateway_url: str) -> None:
    _create(ui, rpm="60", budget_usd="5", period="day")
    key = _listed(gateway_url)[0]
    page = ui[0].get("/ui/keys").text
    assert str(key["id"]) in page and "60 / -" in page and "(day)" in page


def test_a_duplicate_name_gets_the_form_again_with_409(ui: Ui) -> None:
    _create(ui)
    reply = _create(ui)
    assert reply.status_code == 409
    assert "already exists" in reply.text and 'action="/ui/keys"' in reply.text


def test_a_bad_number_gets_a_400_page_not_a_500(ui: Ui) -> None:
    reply = _create(ui, rpm="lots")
    assert reply.status_code == 400
    assert "rpm must be a number" in reply.text


def test_the_admin_box_creates_an_admin_key(ui: Ui, gateway_url: str) -> None:
    _create(ui, admin="on")
    assert _listed(gateway_url)[0]["admin"] is True


def test_revoking_a_key_marks_it_revoked_for_the_admin_api(ui: Ui, gateway_url: str) -> None:
    _create(ui)
    client, csrf = ui
    key_id = _listed(gateway_url)[0]["id"]
    reply = client.post(f"/ui/keys/{key_id}/revoke", data={"csrf_token": csrf})
    assert reply.headers["location"] == "/ui/keys"
    assert _listed(gateway_url)[0]["revoked"] is True


def test_regenerating_shows_a_new_secret_and_the_old_one_stops(ui: Ui, gateway_url: str) -> None:
    old = SECRET.search(_create(ui).text)
    client, csrf = ui
    key_id = _listed(gateway_url)[0]["id"]
    reply = client.post(f"/ui/keys/{key_id}/regenerate", data={"csrf_token": csrf})
    new = SECRET.search(reply.text)
    assert old is not None and new is not None and new.group(1) != old.group(1)
    models = httpx.get(
        f"{gateway_url}/v1/models", headers={"authorization": f"Bearer {old.group(1)}"}
    )
    assert models.status_code == 401


def test_revoking_an_unknown_key_gets_404(ui: Ui) -> None:
    client, csrf = ui
    reply = client.post("/ui/keys/key_0000000000000000/revoke", data={"csrf_token": csrf})
    assert reply.status_code == 404


def test_creating_without_the_csrf_token_is_refused(ui: Ui) -> None:
    assert ui[0].post("/ui/keys", data={"name": "x"}).status_code == 403


def _edit(ui: Ui, key_id: object, **fields: str) -> httpx.Response:
    client, csrf = ui
    return client.post(f"/ui/keys/{key_id}/edit", data={"csrf_token": csrf, **fields})


def test_editing_limits_budget_and_expiry_changes_them_for_the_admin_api(
    ui: Ui, gateway_url: str
) -> None:
    _create(ui, rpm="60")
    key_id = _listed(gateway_url)[0]["id"]
    form = ui[0].get(f"/ui/keys/{key_id}/edit").text
    assert 'value="60"' in form
    reply = _edit(
        ui,
        key_id,
        rpm="120",
        tpm="",
        budget_usd="7.5",
        period="month",
        expires="2099-01-31",
        models="local/*, fast",
    )
    assert reply.status_code == 303  # back to the list
    key = _listed(gateway_url)[0]
    assert (key["rpm"], key["budget_usd"], key["period"]) == (120, 7.5, "month")
    assert str(key["expires_at"]).startswith("2099-01-31")
    assert key["models"] == ["local/*", "fast"]


def test_a_blank_field_in_the_edit_form_removes_that_limit(ui: Ui, gateway_url: str) -> None:
    _create(ui, rpm="60", tpm="1000")
    key_id = _listed(gateway_url)[0]["id"]
    _edit(ui, key_id, rpm="", tpm="1000")
    key = _listed(gateway_url)[0]
    assert (key["rpm"], key["tpm"]) == (None, 1000)


def test_an_expiry_in_the_past_gets_the_form_again_with_400(ui: Ui, gateway_url: str) -> None:
    _create(ui)
    key_id = _listed(gateway_url)[0]["id"]
    reply = _edit(ui, key_id, expires="2001-01-01")
    assert reply.status_code == 400
    assert "expires must be in the future" in reply.text


def test_editing_an_unknown_key_gets_404(ui: Ui) -> None:
    assert _edit(ui, "key_0000000000000000", rpm="5").status_code == 404


def test_editing_without_the_csrf_token_is_refused(ui: Ui, gateway_url: str) -> None:
    _create(ui, rpm="60")
    key_id = _listed(gateway_url)[0]["id"]
    assert ui[0].post(f"/ui/keys/{key_id}/edit", data={"rpm": "1"}).status_code == 403
    assert _listed(gateway_url)[0]["rpm"] == 60
