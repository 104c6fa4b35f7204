"""``/ui/audit``: the audit trail, filtered and paged; ``/ui/audit/{id}``: one record."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm.dashboard.data.audit import FIELDS, BadFilter, audit_page, audit_record
from securellm.dashboard.render import page
from securellm.dashboard.session import require_session
from securellm.gateway.state import gateway_state


def audit_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


async def audit_list(request: Request) -> Response:
    session = await require_session(request)
    params = dict(request.query_params)
    try:
        data = await audit_page(gateway_state(request), params)
    except BadFilter as exc:
        form = {name: params.get(name, "") for name in FIELDS}
        return page(
            request,
            "audit.html",
            session,
            active="audit",
            audit_time=audit_time,
            status=400,
            error=str(exc),
            rows=[],
            form=form,
            next_url=None,
        )
    return page(
        request,
        "audit.html",
        session,
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


routes = [
    Route("/audit", audit_list, methods=["GET"]),
    Route("/audit/{row_id}", audit_detail, methods=["GET"]),
]
