"""The gateway's runtime objects, built in the lifespan and reached through ``request.state``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from securellm.core.config import ProviderSettings, Settings
from securellm.core.db import create_engine
from securellm.gateway.admission import Admission, AdmitAll
from securellm.gateway.auth import Authenticator
from securellm.gateway.catalog import Catalog
from securellm.gateway.context import OutcomeSink, RequestContext
from securellm.gateway.dispatch import Dispatcher
from securellm.gateway.keys import KeyStore
from securellm.gateway.master import ensure_master_key
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
    admission: Admission = field(default_factory=AdmitAll)
    sinks: list[OutcomeSink] = field(default_factory=list)
    readiness_probes: dict[str, Callable[[], object]] = field(default_factory=dict)
    draining: bool = False
    in_flight: int = 0

    def finish(self, ctx: RequestContext) -> None:
        """Settle, then hand a finished request to every sink exactly once (failures logged)."""
        try:
            self.admission.settle(ctx)
        except Exception:
            log.exception("admission settle failed", extra={"request_id": ctx.request_id})
        for sink in self.sinks:
            try:
                sink.record(ctx)
            except Exception:
                log.exception("outcome sink failed", extra={"request_id": ctx.request_id})


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
    try:
        async with build_security(settings, engine) as security:
            yield GatewayState(
                settings=settings,
                engine=engine,
                keys=keys,
                auth=Authenticator(keys, ensure_master_key(settings)),
                providers=providers,
                catalog=catalog,
                dispatcher=Dispatcher(),
                admission=security.admission,
                sinks=list(security.sinks),
                readiness_probes=dict(security.readiness_probes),
            )
    finally:
        await asyncio.gather(*(p.close() for p in providers.values()), return_exceptions=True)
        await engine.dispose()
