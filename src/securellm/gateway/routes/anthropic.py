"""The Anthropic Messages API surface (``/v1/messages``)."""

from __future__ import annotations

from starlette.routing import Route

routes: list[Route] = []
