"""``/ui/``: the overview (placeholder until the charts land)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm.dashboard.render import page
from securellm.dashboard.session import require_session


async def overview(request: Request) -> Response:
    session = await require_session(request)
    return page(request, "overview.html", session, active="overview")


routes = [Route("/", overview, methods=["GET"])]
