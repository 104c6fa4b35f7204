"""``/ui/audit``: the audit trail, filtered and paged; ``/ui/audit/{id}``: one record."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from securellm.dashboard.data.audit import (
    FIELDS,
    BadFilter,
    audit_filter,
    audit_page,
    audit_record,
)
from securellm.dashboard.data.audit_export import export_csv, export_jsonl
from securellm.dashboard.data.audit_verify import Verification
from securellm.dashboard.render import page, templates
from securellm.dashboard.session import Session, require_session
from securellm.gateway.state import gateway_state


def audit_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _bad_filter(
    request: Request, session: Session, params: dict[str, str], exc: BadFilter
) -> Response:
    """The audit page again, with the filters as typed and what is wrong with them (400)."""
    return page(
        request,
        "audit.html",
        session,
        verification=verification_of(request),
        active="audit",
        audit_time=audit_time,
        status=400,
        error=str(exc),
        rows=[],
        form={name: params.get(name, "") for name in FIELDS},
        next_url=None,
    )


async def audit_list(request: Request) -> Response:
    session = await require_session(request)
    params = dict(request.query_params)
    try:
        data = await audit_page(gateway_state(request), params)
    except BadFilter as exc:
        return _bad_filter(request, session, params, exc)
    return page(
        request,
        "audit.html",
        session,
        verification=verification_of(request),
        active="audit",
        audit_time=audit_time,
        error=None,
        rows=data.rows,
        form=data.form,
        next_url=data.next_url,
    )


async def audit_detail(request: Request) -> Response:
    session = await require_session(request)
    raw = request.path_params["row_id"]
    valid = raw.isascii() and raw.isdigit() and len(raw) < 19
    found = await audit_record(gateway_state(request), int(raw)) if valid else None
    if found is None:
        return page(
            request,
            "audit_missing.html",
            session,
            active="audit",
            audit_time=audit_time,
            status=404,
            row_id=raw,
        )
    row, record = found
    return page(
        request,
        "audit_detail.html",
        session,
        active="audit",
        audit_time=audit_time,
        row=row,
        record=record,
        content=(record or {}).get("content"),
    )


async def audit_export(request: Request) -> Response:
    """``export.jsonl`` / ``export.csv``: every row the filters match, streamed."""
    session = await require_session(request)
    params = dict(request.query_params)
    params.pop("before", None)
    kind = request.path_params["kind"]
    if kind not in ("csv", "jsonl"):
        return page(request, "audit_missing.html", session, active="audit", status=404, row_id=kind)
    state = gateway_state(request)
    try:
        flt = replace(await audit_filter(state, params), limit=None)
    except BadFilter as exc:
        return _bad_filter(request, session, params, exc)
    body = export_csv(state, flt) if kind == "csv" else export_jsonl(state, flt)
    media = "text/csv; charset=utf-8" if kind == "csv" else "application/x-ndjson"
    disposition = f'attachment; filename="audit.{kind}"'
    return StreamingResponse(body, media_type=media, headers={"content-disposition": disposition})


def verification_of(request: Request) -> Verification:
    """The dashboard app's one verification (kept on its state: one run at a time)."""
    state = request.app.state
    if not hasattr(state, "audit_verification"):
        state.audit_verification = Verification()
    found: Verification = state.audit_verification
    return found


async def verify_start(request: Request) -> Response:
    await require_session(request)
    settings = gateway_state(request).settings
    key = settings.audit.hmac_key
    started = verification_of(request).start(
        settings.audit_dir, key.get_secret_value().encode() if key else None
    )
    if "x-csrf-token" not in request.headers:  # the plain form (no JavaScript): back to the page
        return RedirectResponse("/ui/audit", status_code=303)
    return verify_fragment_response(request, 202 if started else 409)


async def verify_fragment(request: Request) -> Response:
    await require_session(request)
    return verify_fragment_response(request, 200)


def verify_fragment_response(request: Request, status: int) -> Response:
    html = templates.get_template("audit_verify.html").render(verification=verification_of(request))
    return HTMLResponse(html, status_code=status)


routes = [
    Route("/api/audit/verify", verify_fragment, methods=["GET"]),
    Route("/api/audit/verify", verify_start, methods=["POST"]),
    Route("/audit", audit_list, methods=["GET"]),
    Route("/audit/export.{kind:str}", audit_export, methods=["GET"]),
    Route("/audit/{row_id}", audit_detail, methods=["GET"]),
]
