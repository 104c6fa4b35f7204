"""The admission seam: rate limits and budgets decide before a call, and settle after.

``admit`` runs after authentication and routing and may refuse (429); ``settle`` runs
exactly once per request when its outcome is known (before the outcome sinks), so it can
compute the cost and release reservations. The default admits everything.
"""

from __future__ import annotations

from typing import Protocol

from securellm.gateway.catalog import Route
from securellm.gateway.context import RequestContext
from securellm.providers.base import JSON


class Admission(Protocol):
    async def admit(self, ctx: RequestContext, route: Route, body: JSON) -> None:
        """Reserve capacity for the request or raise ``RateLimited``/``BudgetExceeded``."""

    def settle(self, ctx: RequestContext) -> None:
        """Record real usage and cost; must not block (schedule async work if needed)."""


class AdmitAll:
    """No limits, no budgets."""

    async def admit(self, ctx: RequestContext, route: Route, body: JSON) -> None:
        return None

    def settle(self, ctx: RequestContext) -> None:
        return None
