"""Builds the security layer (audit trail, limits, budgets, cost) for the gateway state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.core.config import Settings
from securellm.gateway.admission import Admission, AdmitAll
from securellm.gateway.context import OutcomeSink


@dataclass
class SecurityParts:
    admission: Admission = field(default_factory=AdmitAll)
    sinks: list[OutcomeSink] = field(default_factory=list)
    readiness_probes: dict[str, Callable[[], object]] = field(default_factory=dict)


@asynccontextmanager
async def build_security(settings: Settings, engine: AsyncEngine) -> AsyncIterator[SecurityParts]:
    """Open what the security layer needs; flush and close it on exit."""
    yield SecurityParts()
