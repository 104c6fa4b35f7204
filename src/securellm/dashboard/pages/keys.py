"""``/ui/keys``: list, create, revoke and regenerate virtual keys (secrets shown once)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from securellm.core.errors import SecureLLMError
from securellm.dashboard.data.keys import key_rows, new_key_of, update_of
from securellm.dashboard.render import page
from securellm.dashboard.session import Session, require_session, sessions_of
from securellm.gateway.keys import KeyNotFound, KeyRecord
from securellm.gateway.state import gateway_state


async def _listing(
    request: Request, session: Session, *, status: int = 200, error: str = "", form: object = None
) -> Response:
    rows = await key_rows(gateway_state(request))
    return page(
        request,
        "keys.html",
        session,
        active="keys",
        rows=rows,
        status=status,
        error=error,
        form=form or {},
    )


async def keys_page(request: Request) -> Response:
    return await _listing(request, await require_session(request))


def _secret_page(request: Request, session: Session, record: KeyRecord, secret: str) -> Response:
    return page(request, "keys_secret.html", session, active="keys", key=record, secret=secret)


async def create_key(request: Request) -> Response:
    session = await require_session(request)
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
    try:
        record, secret = await gateway_state(request).keys.create(new_key_of(form))
    except SecureLLMError as exc:
        return await _listing(request, session, status=exc.status, error=exc.message, form=form)
    return _secret_page(request, session, record, secret)


async def _act(request: Request, action: str) -> Response:
    session = await require_session(request)
    state = gateway_state(request)
    key_id = request.path_params["key_id"]
    try:
        if action == "revoke":
            record = await state.keys.revoke(key_id)
        else:
            record, secret = await state.keys.regenerate(key_id)
    except KeyNotFound:
        return await _listing(request, session, status=404, error=f"no key {key_id!r}")
    except SecureLLMError as exc:
        return await _listing(request, session, status=exc.status, error=exc.message)
    state.auth.forget(record.id)
    await sessions_of(request).close_for_key(record.id)
    if action == "revoke":
        return RedirectResponse("/ui/keys", status_code=303)
    return _secret_page(request, session, record, secret)


async def revoke_key(request: Request) -> Response:
    return await _act(request, "revoke")


async def regenerate_key(request: Request) -> Response:
    return await _act(request, "regenerate")


async def edit_form(request: Request) -> Response:
    session = await require_session(request)
    key_id = request.path_params["key_id"]
    try:
        record = await gateway_state(request).keys.get(key_id)
    except KeyNotFound:
        return await _listing(request, session, status=404, error=f"no key {key_id!r}")
    return page(request, "keys_edit.html", session, active="keys", key=record, error="")


async def edit_key(request: Request) -> Response:
    session = await require_session(request)
    state = gateway_state(request)
    key_id = request.path_params["key_id"]
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
    try:
        record = await state.keys.update(key_id, update_of(form))
    except KeyNotFound:
        return await _listing(request, session, status=404, error=f"no key {key_id!r}")
    except SecureLLMError as exc:
        current = await state.keys.get(key_id)
        return page(
            request,
            "keys_edit.html",
            session,
            active="keys",
            key=current,
            error=exc.message,
            status=exc.status,
        )
    state.auth.forget(record.id)
    return RedirectResponse(f"/ui/keys#{record.id}", status_code=303)


routes = [
    Route("/keys", keys_page, methods=["GET"]),
    Route("/keys", create_key, methods=["POST"]),
    Route("/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
    Route("/keys/{key_id}/regenerate", regenerate_key, methods=["POST"]),
    Route("/keys/{key_id}/edit", edit_form, methods=["GET"]),
    Route("/keys/{key_id}/edit", edit_key, methods=["POST"]),
]
