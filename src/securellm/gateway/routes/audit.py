"""Admin endpoints for the audit trail and spend."""

from __future__ import annotations

from starlette.routing import Route

routes: list[Route] = []
