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
from securellm.gateway.context import RequestContext
from securellm.gateway.service import serve
from securellm.gateway.state import GatewayState


def _next_path(value: object) -> str:
    """Only a path inside the dashboard: never an open redirect."""
    text = str(value or "")
    return text if text.startswith("/ui/") and not text.startswith("/ui//") else "/ui/"


async def signin_form(request: Request) -> Response:
    return page(request, "signin.html", None, next=_next_path(request.query_params.get("next")))


async def signin(request: Request) -> Response:
    """Sign in through :func:`serve`, so every attempt lands in the audit trail (endpoint
    ``ui_signin``; the key presented never does)."""

    async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
        return await _signin(ctx, state, req)

    return await serve(request, "ui_signin", "openai", work)


async def _signin(ctx: RequestContext, state: GatewayState, request: Request) -> Response:
    throttle = dashboard_of(request).signin_throttle
    client = ctx.client_ip or "unknown"
    form = await request.form()
    target = _next_path(form.get("next"))
    wait = throttle.retry_after(client)
    if wait is not None:
        ctx.status, ctx.error, ctx.outcome = 429, "too many failed sign-ins", "refused"
        error = f"Too many failed sign-ins from this address: try again in {wait} s."
        reply = page(request, "signin.html", None, next=target, error=error, status=429)
        reply.headers["retry-after"] = str(wait)
        return reply
    try:
        record = await state.auth.authenticate({"authorization": f"Bearer {form.get('key', '')}"})
    except AuthenticationFailed:
        record = None
    if record is None or not record.is_admin:
        throttle.failed(client)
        ctx.status, ctx.error, ctx.outcome = 401, "dashboard sign-in refused", "refused"
        error = "That key cannot sign in here (the master key or an admin key is needed)."
        return page(request, "signin.html", None, next=target, error=error, status=401)
    ctx.key = record
    session = await sessions_of(request).open(record.id, record.name)
    ctx.status = 303
    redirect = RedirectResponse(target, status_code=303)
    redirect.set_cookie(
        COOKIE,
        session.id,
        max_age=LIFETIME_S,
        path="/ui",
        httponly=True,
        secure=dashboard_of(request).secure_cookies,
        samesite="strict",
    )
    return redirect


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
