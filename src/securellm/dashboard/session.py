"""Dashboard sessions: a signed-in admin, its CSRF token, and the checks pages call.

The cookie holds only a random session id; everything else stays on the server, in the
gateway's database (:mod:`securellm.dashboard.sessions_store`).
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from securellm.gateway.keys import MASTER_ID, KeyNotFound
from securellm.gateway.state import gateway_state

if TYPE_CHECKING:
    from securellm.dashboard.app import Dashboard
    from securellm.dashboard.sessions_store import SessionStore

COOKIE = "securellm_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
LIFETIME_S = 8 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Session:
    id: str
    key_id: str
    key_name: str
    csrf: str
    expires_at: float
    created_at: float = field(default_factory=time.time)


class SessionRequired(Exception):
    """No valid session (or a state change without its CSRF token)."""

    def __init__(self, *, api: bool, status: int = 401, message: str = "sign in first") -> None:
        super().__init__(message)
        self.api = api
        self.status = status
        self.message = message


def sessions_of(request: Request) -> SessionStore:
    """The database-backed session store of this gateway (shared by its workers)."""
    from securellm.dashboard.sessions_store import SessionStore

    return SessionStore(gateway_state(request).engine)


async def _live_session(request: Request, session_id: str) -> Session | None:
    """The session, if its key may still sign in (not revoked, expired, nor demoted)."""
    session = await sessions_of(request).get(session_id)
    if session is None or session.key_id == MASTER_ID:
        return session
    try:
        record = await gateway_state(request).keys.get(session.key_id)
    except KeyNotFound:
        record = None
    if record is None or record.revoked or record.is_expired() or not record.is_admin:
        await sessions_of(request).close_for_key(session.key_id)
        return None
    return session


def dashboard_of(request: Request) -> Dashboard:
    dash: Dashboard = request.app.state.dashboard
    return dash


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/ui/api/")


async def require_session(request: Request) -> Session:
    """The signed-in session, or :class:`SessionRequired` (redirect for pages, 401 for API).

    State-changing requests must also carry the session's CSRF token (header
    ``X-CSRF-Token`` or form field ``csrf_token``), else 403.
    """
    session_id = request.cookies.get(COOKIE)
    session = await _live_session(request, session_id) if session_id else None
    if session is None:
        raise SessionRequired(api=is_api(request))
    if request.method not in SAFE_METHODS:
        await check_csrf(request, session)
    return session


async def check_csrf(request: Request, session: Session) -> None:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        token = str((await request.form()).get(CSRF_FIELD, ""))
    if not token or not hmac.compare_digest(token, session.csrf):
        raise SessionRequired(api=True, status=403, message="missing or wrong CSRF token")


async def session_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SessionRequired)
    if exc.api or exc.status != 401:
        return JSONResponse(
            {"error": {"message": exc.message, "type": "authentication_error"}},
            status_code=exc.status,
        )
    return RedirectResponse(f"/ui/login?next={request.url.path}", status_code=303)
