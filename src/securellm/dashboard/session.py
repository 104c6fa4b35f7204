"""Dashboard sessions: a signed-in admin, its CSRF token, and the checks pages call.

The cookie holds only a random session id; everything else stays on the server.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from securellm.dashboard.app import Dashboard

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


class Sessions:
    """In-process session table (placeholder for the database-backed store)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}

    async def open(self, key_id: str, key_name: str) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32),
            key_id=key_id,
            key_name=key_name,
            csrf=secrets.token_urlsafe(32),
            expires_at=time.time() + LIFETIME_S,
        )
        self._by_id[session.id] = session
        return session

    async def get(self, session_id: str) -> Session | None:
        session = self._by_id.get(session_id)
        if session is None or session.expires_at <= time.time():
            return None
        return session

    async def close(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)


class SessionRequired(Exception):
    """No valid session (or a state change without its CSRF token)."""

    def __init__(self, *, api: bool, status: int = 401, message: str = "sign in first") -> None:
        super().__init__(message)
        self.api = api
        self.status = status
        self.message = message


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
    session = await dashboard_of(request).sessions.get(session_id) if session_id else None
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
