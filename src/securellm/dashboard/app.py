"""``mount(settings)``: the dashboard as one Starlette app under ``/ui``."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from securellm.core.config import Settings
from securellm.dashboard.headers import SecurityHeaders
from securellm.dashboard.pages import audit, keys, knowledge, models, overview, signin
from securellm.dashboard.session import SessionRequired, session_required
from securellm.dashboard.signin_throttle import SigninThrottle

STATIC = Path(__file__).parent / "static"


class Dashboard:
    """What every page handler reaches through ``request.app.state.dashboard``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.secure_cookies = settings.gateway.tls_cert_file is not None
        self.signin_throttle = SigninThrottle()


def page_routes() -> list[BaseRoute]:
    return [
        *signin.routes,
        *overview.routes,
        *keys.routes,
        *audit.routes,
        *models.routes,
        *knowledge.routes,
    ]


def mount(settings: Settings) -> Mount:
    """The ``/ui`` mount: pages, their ``/ui/api/...`` fragments, and ``/ui/static``."""
    app = Starlette(
        routes=[*page_routes(), Mount("/static", StaticFiles(directory=STATIC), name="static")],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={SessionRequired: session_required},
    )
    app.state.dashboard = Dashboard(settings)
    return Mount("/ui", app=app)
