"""Builds the security layer (audit trail, limits, budgets, cost) for the gateway state."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from securellm.core.config import Settings
from securellm.gateway.admission import Admission, AdmitAll
from securellm.gateway.audit.writer import AuditWriter
from securellm.gateway.context import OutcomeSink
from securellm.gateway.limits.admission import SecurityAdmission
from securellm.gateway.limits.fallback import FallbackLimiter, FallbackPolicy
from securellm.gateway.limits.gcra import MemoryLimiter
from securellm.gateway.limits.redis_backend import RedisLimiter
from securellm.gateway.pricing import PriceTable
from securellm.gateway.spend import BudgetLedger

log = logging.getLogger(__name__)


@dataclass
class SecurityParts:
    admission: Admission = field(default_factory=AdmitAll)
    sinks: list[OutcomeSink] = field(default_factory=list)
    readiness_probes: dict[str, Callable[[], object]] = field(default_factory=dict)


def audit_writer(settings: Settings, engine: AsyncEngine | None) -> AuditWriter:
    audit = settings.audit
    key = audit.hmac_key.get_secret_value().encode() if audit.hmac_key else None
    return AuditWriter(
        settings.audit_dir,
        key=key,
        flush_interval_s=audit.flush_interval_ms / 1000,
        retention_days=audit.retention_days,
        engine=engine if audit.index_in_db else None,
        fsync=audit.fsync,
        durable=audit.durable,
    )


@asynccontextmanager
async def build_security(
    settings: Settings, engine: AsyncEngine, redis: Redis | None = None
) -> AsyncIterator[SecurityParts]:
    """Open what the security layer needs; flush and close it on exit.

    ``redis`` is the process's shared client (``None`` without ``redis_url``); its owner
    closes it.
    """
    async with AsyncExitStack() as stack:
        policy = FallbackPolicy.from_settings(settings.gateway)
        limiter = FallbackLimiter(RedisLimiter(redis) if redis else None, MemoryLimiter(), policy)
        limiter.start()
        stack.push_async_callback(limiter.drain)  # stops the heartbeat if a later step fails
        providers = {p.name: p for p in settings.providers}
        gateway = settings.gateway
        prices = PriceTable(providers, gateway.prices)
        ledger = BudgetLedger(engine, fast=gateway.budget_fast_path)
        stack.callback(ledger.close)
        admission = SecurityAdmission(settings, limiter, ledger, prices)
        stack.push_async_callback(admission.drain)
        parts = SecurityParts(admission=admission)
        parts.readiness_probes["limits"] = admission.readiness
        if settings.audit.enabled:
            writer = audit_writer(settings, engine)
            await writer.start()
            stack.push_async_callback(writer.close)
            parts.sinks.append(writer)
            parts.readiness_probes["audit"] = writer.status
        yield parts
