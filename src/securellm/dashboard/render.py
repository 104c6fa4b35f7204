"""Jinja2 templates (autoescaped) and the page response every handler returns."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from securellm.dashboard.session import Session

NAV = (
    ("overview", "/ui/", "Overview"),
    ("keys", "/ui/keys", "Keys"),
    ("audit", "/ui/audit", "Audit"),
    ("models", "/ui/models", "Local models"),
    ("knowledge", "/ui/knowledge", "Knowledge"),
)

templates = Environment(
    loader=PackageLoader("securellm.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def page(
    request: Request,
    template: str,
    session: Session | None,
    *,
    active: str = "",
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` inside the layout (navigation, CSRF meta tag for scripts)."""
    html = templates.get_template(template).render(
        request=request, session=session, nav=NAV, active=active, **context
    )
    return HTMLResponse(html, status_code=status)
