"""``/ui/audit``: the audit trail: search, one request's records, export, verification."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from securellm.dashboard.data.audit import (
    OUTCOMES,
    AuditView,
    BadFilter,
    export,
    page_of,
    read_view,
    record,
)
from securellm.dashboard.render import page, templates
from securellm.dashboard.session import Session, dashboard_of, require_session
from securellm.gateway.state import GatewayState, gateway_state

EXPORTS = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


async def _view(request: Request, state: GatewayState) -> AuditView:
    return await read_view(request.query_params, state.keys)


def _bad(request: Request, session: Session, exc: BadFilter) -> Response:
    typed = {name: request.query_params.get(name, "") for name in ("since", "until", "key")}
    return page(
        request,
        "audit.html",
        session,
        active="audit",
        status=400,
        error=str(exc),
        error_field=exc.field,
        typed=typed,
        rows=[],
        older=None,
        outcomes=OUTCOMES,
        when=when,
        verify=dashboard_of(request).verify.progress,
    )


async def audit_page(request: Request) -> Response:
    session = await require_session(request)
    state = gateway_state(request)
    try:
        view = await _view(request, state)
    except BadFilter as exc:
        return _bad(request, session, exc)
    rows, older = await page_of(state.engine, view)
    query = {k: v for k, v in view.typed.items() if v}
    return page(
        request,
        "audit.html",
        session,
        active="audit",
        typed=view.typed,
        rows=rows,
        older={**query, "before": repr(older)} if older is not None else None,
        export_query=query,
        outcomes=OUTCOMES,
        when=when,
        verify=dashboard_of(request).verify.progress,
    )


async def audit_record(request: Request) -> Response:
    session = await require_session(request)
    request_id = request.path_params["request_id"]
    rows = await record(gateway_state(request).engine, request_id)
    return page(
        request,
        "audit_record.html",
        session,
        active="audit",
        status=200 if rows else 404,
        request_id=request_id,
        rows=rows,
        when=when,
    )


async def audit_export(request: Request) -> Response:
    session = await require_session(request)
    fmt = request.path_params["fmt"]
    state = gateway_state(request)
    if fmt not in EXPORTS:
        return JSONResponse({"error": {"message": "export as jsonl or csv"}}, status_code=404)
    try:
        view = await _view(request, state)
    except BadFilter as exc:
        return _bad(request, session, exc)
    name = f"audit-{datetime.now(UTC):%Y%m%dT%H%M%S}.{fmt}"
    return StreamingResponse(
        export(state.engine, view, fmt),
        media_type=EXPORTS[fmt],
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


async def start_verify(request: Request) -> Response:
    await require_session(request)
    settings = gateway_state(request).settings
    key = settings.audit.hmac_key
    dashboard_of(request).verify.start(
        settings.audit_dir, key.get_secret_value().encode() if key else None
    )
    return RedirectResponse("/ui/audit#verify", status_code=303)


async def verify_fragment(request: Request) -> Response:
    await require_session(request)
    html = templates.get_template("_audit_verify.html").render(
        verify=dashboard_of(request).verify.progress, when=when
    )
    return Response(html, media_type="text/html")


routes = [
    Route("/audit", audit_page, methods=["GET"]),
    Route("/audit/records/{request_id}", audit_record, methods=["GET"]),
    Route("/audit/export.{fmt}", audit_export, methods=["GET"]),
    Route("/audit/verify", start_verify, methods=["POST"]),
    Route("/api/audit/verify", verify_fragment, methods=["GET"]),
]
