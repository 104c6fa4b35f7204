"""The gateway's runtime objects, built in the lifespan and reached through ``request.state``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from securellm.core.config import ProviderSettings, Settings
from securellm.core.db import create_engine
from securellm.gateway.admission import Admission, AdmitAll
from securellm.gateway.auth import Authenticator
from securellm.gateway.cache.response_cache import ResponseCache
from securellm.gateway.cache.store import CacheStore, MemoryStore, RedisStore
from securellm.gateway.catalog import Catalog
from securellm.gateway.context import OutcomeSink, RequestContext
from securellm.gateway.dispatch import Dispatcher
from securellm.gateway.keys import KeyStore
from securellm.gateway.lifecycle import install_drain_hook
from securellm.gateway.master import ensure_master_key
from securellm.gateway.metrics import Metrics
from securellm.gateway.redis_client import create_redis
from securellm.gateway.resilience.breaker import BreakerStore, MemoryBreakers, RedisBreakers
from securellm.gateway.responses_store import ResponseStore, SqlResponseStore, purge_periodically
from securellm.gateway.security import build_security
from securellm.providers.base import Provider
from securellm.providers.registry import build_provider

log = logging.getLogger(__name__)
ProviderFactory = Callable[[ProviderSettings], Provider]


@dataclass
class GatewayState:
    settings: Settings
    engine: AsyncEngine
    keys: KeyStore
    auth: Authenticator
    providers: dict[str, Provider]
    catalog: Catalog
    dispatcher: Dispatcher
    responses: ResponseStore
    admission: Admission = field(default_factory=AdmitAll)
    sinks: list[OutcomeSink] = field(default_factory=list)
    readiness_probes: dict[str, Callable[[], object]] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    cache: ResponseCache | None = None
    draining: bool = False
    in_flight: int = 0

    def mark_draining(self) -> None:
        """From here on ``/ready`` answers 503 while in-flight requests finish."""
        self.draining = True

    def finish(self, ctx: RequestContext) -> list[Awaitable[None]]:
        """Settle, then hand a finished request to every sink exactly once (failures logged).

        Returns what the response must wait for before its last byte (the audit write).
        """
        try:
            self.admission.settle(ctx)
        except Exception:
            log.exception("admission settle failed", extra={"request_id": ctx.request_id})
        waits: list[Awaitable[None]] = []
        for sink in self.sinks:
            try:
                wait = sink.record(ctx)
            except Exception:
                log.exception("outcome sink failed", extra={"request_id": ctx.request_id})
                continue
            if wait is not None:
                waits.append(wait)
        return waits


def gateway_state(request: Request) -> GatewayState:
    state: GatewayState = request.state.gateway
    return state


@asynccontextmanager
async def build_state(
    settings: Settings, provider_factory: ProviderFactory = build_provider
) -> AsyncIterator[GatewayState]:
    """Open the database and the provider pools; close everything on exit."""
    engine = create_engine(settings.database_url)
    keys = KeyStore(engine)
    await keys.create_schema()
    providers = {p.name: provider_factory(p) for p in settings.providers}
    await asyncio.gather(*(p.start() for p in providers.values()))
    catalog = Catalog(providers, settings.aliases)
    await catalog.discover()
    redis = create_redis(settings.gateway.redis_url) if settings.gateway.redis_url else None
    resilience = _resilience(settings, redis)
    responses = _responses(settings, engine)
    purge = asyncio.get_running_loop().create_task(purge_periodically(responses))
    try:
        async with build_security(settings, engine, redis) as security:
            state = GatewayState(
                settings=settings,
                engine=engine,
                keys=keys,
                auth=Authenticator(keys, ensure_master_key(settings)),
                providers=providers,
                catalog=catalog,
                dispatcher=resilience.dispatcher,
                responses=responses,
                admission=security.admission,
                sinks=[*security.sinks, resilience.metrics],
                readiness_probes={**security.readiness_probes, **resilience.probes},
                metrics=resilience.metrics,
                cache=resilience.cache,
            )
            restore_signals = install_drain_hook(state.mark_draining)
            try:
                yield state
            finally:
                restore_signals()
                await resilience.cache.drain()
    finally:
        purge.cancel()
        await asyncio.gather(purge, return_exceptions=True)
        await resilience.dispatcher.hosts.close()
        await asyncio.gather(*(p.close() for p in providers.values()), return_exceptions=True)
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


def _responses(settings: Settings, engine: AsyncEngine) -> SqlResponseStore:
    gw = settings.gateway
    return SqlResponseStore(
        engine, retention_days=gw.responses_retention_days, max_bytes=gw.responses_max_bytes
    )


@dataclass
class _Resilience:
    dispatcher: Dispatcher
    cache: ResponseCache
    metrics: Metrics
    probes: dict[str, Callable[[], object]]


def _resilience(settings: Settings, redis: Redis | None) -> _Resilience:
    """Breakers, cache and metrics: shared through Redis when configured, in-process otherwise."""
    memory = MemoryStore(settings.cache.max_entries, settings.cache.ttl_s)
    use_redis = redis is not None and settings.cache.backend != "memory"
    store: CacheStore = RedisStore(redis, settings.cache.ttl_s, memory) if use_redis else memory
    breakers: BreakerStore = RedisBreakers(redis) if redis is not None else MemoryBreakers()
    cache = ResponseCache(settings.cache, store)
    metrics = Metrics(circuits=breakers.snapshot)
    dispatcher = Dispatcher(
        request_timeout_s=settings.gateway.request_timeout_s,
        breakers=breakers,
        cache=cache,
        on_retry=metrics.retry,
    )

    def circuits() -> object:
        return {name: str(state) for name, state in breakers.snapshot().items()}

    probes: dict[str, Callable[[], object]] = {
        "circuits": circuits,
        "cache": cache.describe,
        "offload_hosts": dispatcher.hosts.describe,
    }
    return _Resilience(dispatcher, cache, metrics, probes)
