"""``/ui/knowledge``: the MCP server's knowledge base: search, one entry, delete, counts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from securellm.dashboard.data import knowledge as data
from securellm.dashboard.render import page
from securellm.dashboard.session import Session, dashboard_of, require_session
from securellm.mcp.errors import McpToolError, NotFoundError
from securellm.mcp.knowledge.models import ENTRY_TYPES


def _error(request: Request, session: Session, status: int, message: str) -> Response:
    return page(
        request, "knowledge.html", session, active="knowledge", status=status, failure=message
    )


async def knowledge_page(request: Request) -> Response:
    session = await require_session(request)
    settings = dashboard_of(request).settings
    try:
        search = data.parse_search(dict(request.query_params))
        found = await data.listing(settings, search)
    except (data.BadQuery, McpToolError) as exc:
        return _error(request, session, 400, str(exc))
    deleted = request.query_params.get("deleted", "")
    return page(
        request,
        "knowledge.html",
        session,
        active="knowledge",
        search=search,
        found=found,
        types=ENTRY_TYPES,
        path=data.db_path(settings),
        deleted=deleted if deleted.isdigit() else "",
    )


async def knowledge_entry(request: Request) -> Response:
    session = await require_session(request)
    try:
        entry_id = data.parse_id(request.path_params["entry_id"])
        found = await data.entry(dashboard_of(request).settings, entry_id)
    except data.BadQuery as exc:
        return _error(request, session, 400, str(exc))
    except NotFoundError as exc:
        return _error(request, session, 404, str(exc))
    except McpToolError as exc:
        return _error(request, session, 500 if "corrupt" in str(exc) else 503, str(exc))
    if found is None:
        return _error(request, session, 404, "there is no knowledge base yet")
    return page(request, "knowledge_entry.html", session, active="knowledge", entry=found)


async def knowledge_delete(request: Request) -> Response:
    session = await require_session(request)
    try:
        entry_id = data.parse_id(request.path_params["entry_id"])
        deleted = await data.delete(dashboard_of(request).settings, entry_id)
    except data.BadQuery as exc:
        return _error(request, session, 400, str(exc))
    except McpToolError as exc:
        return _error(request, session, 503, str(exc))
    if not deleted:
        return _error(request, session, 404, f"entry {entry_id} does not exist")
    return RedirectResponse(f"/ui/knowledge?deleted={entry_id}", status_code=303)


routes = [
    Route("/knowledge", knowledge_page, methods=["GET"]),
    Route("/knowledge/{entry_id}", knowledge_entry, methods=["GET"]),
    Route("/knowledge/{entry_id}/delete", knowledge_delete, methods=["POST"]),
]
