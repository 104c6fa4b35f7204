"""``/ui/login`` and ``/ui/logout``: a master or admin key exchanged for a session cookie."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from securellm.core.errors import AuthenticationFailed
from securellm.dashboard.render import page
from securellm.dashboard.session import (
    COOKIE,
    LIFETIME_S,
    dashboard_of,
    require_session,
    sessions_of,
)
from securellm.gateway.state import gateway_state


def _next_path(value: object) -> str:
    """Only a path inside the dashboard: never an open redirect."""
    text = str(value or "")
    return text if text.startswith("/ui/") and not text.startswith("/ui//") else "/ui/"


async def signin_form(request: Request) -> Response:
    return page(request, "signin.html", None, next=_next_path(request.query_params.get("next")))


async def signin(request: Request) -> Response:
    form = await request.form()
    target = _next_path(form.get("next"))
    auth = gateway_state(request).auth
    try:
        record = await auth.authenticate({"authorization": f"Bearer {form.get('key', '')}"})
    except AuthenticationFailed:
        record = None
    if record is None or not record.is_admin:
        error = "That key cannot sign in here (the master key or an admin key is needed)."
        return page(request, "signin.html", None, next=target, error=error, status=401)
    session = await sessions_of(request).open(record.id, record.name)
    reply = RedirectResponse(target, status_code=303)
    reply.set_cookie(
        COOKIE,
        session.id,
        max_age=LIFETIME_S,
        path="/ui",
        httponly=True,
        secure=dashboard_of(request).secure_cookies,
        samesite="strict",
    )
    return reply


async def signout(request: Request) -> Response:
    session = await require_session(request)
    await sessions_of(request).close(session.id)
    reply = RedirectResponse("/ui/login", status_code=303)
    reply.delete_cookie(COOKIE, path="/ui")
    return reply


routes = [
    Route("/login", signin_form, methods=["GET"]),
    Route("/login", signin, methods=["POST"]),
    Route("/logout", signout, methods=["POST"]),
]
