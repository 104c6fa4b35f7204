"""``/ui/``: the overview, and ``/ui/api/overview``: its live figures as an HTML fragment.

``?window=hour|day|month`` picks the window (links, no JavaScript needed); the page and the
fragment render the same partial, which ``app.js`` refreshes every 5 seconds.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from securellm.dashboard import charts
from securellm.dashboard.data.overview import BadWindow, gather, window_of
from securellm.dashboard.render import page, templates
from securellm.dashboard.session import require_session
from securellm.gateway.state import gateway_state

PARTIAL = "_overview_live.html"


def _usd(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def chart_set(data: dict[str, Any]) -> dict[str, Markup]:
    """The SVG charts of one window's figures (the tables beside them hold the same)."""
    buckets = data["buckets"]
    out = {
        "series": charts.series(
            "chart-series",
            f"Requests and errors, {data['window'].label.lower()}",
            [
                charts.Line("requests", [b["requests"] for b in buckets], "chart-requests"),
                charts.Line("errors", [b["errors"] for b in buckets], "chart-errors"),
            ],
            (buckets[0]["label"], buckets[-1]["label"]) if buckets else ("", ""),
        )
    }
    for group, rows in data["groups"].items():
        items = [(str(r["label"] or r["group"] or "none"), float(r["cost_usd"])) for r in rows]
        out[group] = charts.bars(f"chart-{group}", f"Spend per {group}", items, _usd)
    return out


async def _figures(request: Request) -> dict[str, Any]:
    window = window_of(request.query_params.get("window"))
    data = await gather(gateway_state(request), window)
    return {**data, "charts": chart_set(data), "usd": _usd}


async def overview(request: Request) -> Response:
    session = await require_session(request)
    try:
        data = await _figures(request)
    except BadWindow as exc:
        return page(request, "overview_bad.html", session, active="overview", status=400,
                    message=str(exc))  # fmt: skip
    return page(request, "overview.html", session, active="overview", partial=PARTIAL, **data)


async def overview_fragment(request: Request) -> Response:
    await require_session(request)
    try:
        data = await _figures(request)
    except BadWindow as exc:
        return JSONResponse(
            {"error": {"message": str(exc), "type": "invalid_request_error", "param": "window"}},
            status_code=400,
        )
    return HTMLResponse(templates.get_template(PARTIAL).render(**data))


routes = [
    Route("/", overview, methods=["GET"]),
    Route("/api/overview", overview_fragment, methods=["GET"]),
]
