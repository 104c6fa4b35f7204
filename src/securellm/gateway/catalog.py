"""Which models exist and where a model name leads: ``provider/model``, an alias, or a bare name."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from securellm.core.config import AliasSettings
from securellm.core.errors import ModelNotFound, SecureLLMError
from securellm.providers.base import Provider

log = logging.getLogger(__name__)
REDISCOVER_AFTER_S = 30.0
LOADED_FIRST = "loaded-first"  # the default for several offload hosts (resilience.routing)


@dataclass(frozen=True)
class Target:
    """One place a request can go: a provider and the model name that provider knows."""

    provider: Provider
    model: str

    @property
    def public_id(self) -> str:
        return f"{self.provider.name}/{self.model}"


@dataclass(frozen=True)
class Route:
    """The resolved form of the ``model`` a client asked for."""

    requested: str
    targets: tuple[Target, ...]
    strategy: str = "fallback"
    weights: tuple[float, ...] | None = None
    fallback_on: tuple[str, ...] = ()


class Catalog:
    """Holds each provider's model list (configured or discovered) and the aliases."""

    def __init__(self, providers: Mapping[str, Provider], aliases: Sequence[AliasSettings]) -> None:
        self.providers = dict(providers)
        self.aliases = {a.name: a for a in aliases}
        self._models: dict[str, list[str] | None] = {name: None for name in providers}
        self._checked: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def discover(self) -> None:
        """Ask every provider for its models; a provider that fails stays 'unknown'."""
        await asyncio.gather(*(self._discover_one(name) for name in self.providers))

    async def _discover_one(self, name: str) -> None:
        self._checked[name] = time.monotonic()
        try:
            self._models[name] = await self.providers[name].list_models()
        except (SecureLLMError, OSError) as exc:
            log.warning("model discovery failed", extra={"provider": name, "error": str(exc)})

    def models_of(self, provider: str) -> list[str] | None:
        return self._models.get(provider)

    def public_ids(self) -> list[tuple[str, str]]:
        """``(id, owner)`` pairs for ``/v1/models``: every known model, then every alias."""
        ids = [
            (f"{name}/{model}", name)
            for name, models in self._models.items()
            for model in models or ()
        ]
        ids.extend((alias, "alias") for alias in self.aliases)
        return ids

    async def resolve(self, requested: str) -> Route:
        alias = self.aliases.get(requested)
        if alias is not None:
            targets = tuple([await self._target(t) for t in alias.targets])
            strategy: str = alias.strategy
            if "strategy" not in alias.model_fields_set and _all_offload(targets):
                strategy = LOADED_FIRST
            return Route(requested, targets, strategy, alias.weights, alias.fallback_on)
        hosts = self._offload_hosts(requested)
        if hosts:
            return Route(requested, hosts, LOADED_FIRST)
        return Route(requested, (await self._target(requested),))

    def _offload_hosts(self, name: str) -> tuple[Target, ...]:
        """Every offload provider listing the bare model ``name``, when there are several."""
        owners = [p for p, models in self._models.items() if models and name in models]
        targets = tuple(Target(self.providers[p], name) for p in owners)
        return targets if len(targets) > 1 and _all_offload(targets) else ()

    async def _target(self, name: str) -> Target:
        provider_name, sep, model = name.partition("/")
        if sep and provider_name in self.providers and model:
            await self._ensure_known(provider_name, model)
            return Target(self.providers[provider_name], model)
        owners = [p for p, models in self._models.items() if models and name in models]
        if len(owners) == 1:
            return Target(self.providers[owners[0]], name)
        if len(owners) > 1:
            choices = ", ".join(f"{o}/{name}" for o in owners)
            raise ModelNotFound(
                f"model {name!r} is ambiguous; use one of: {choices}", param="model"
            )
        if sep and provider_name not in self.providers:
            raise ModelNotFound(
                f"unknown provider {provider_name!r} in model {name!r}", param="model"
            )
        raise ModelNotFound(
            f"model {name!r} does not exist; GET /v1/models lists the available ones",
            param="model",
        )

    async def _ensure_known(self, provider: str, model: str) -> None:
        models = self._models.get(provider)
        if models is not None and model in models:
            return
        if time.monotonic() - self._checked.get(provider, 0.0) > REDISCOVER_AFTER_S:
            async with self._lock:
                await self._discover_one(provider)
            models = self._models.get(provider)
        if models is None:
            return  # discovery unavailable: let the upstream decide
        if model not in models:
            raise ModelNotFound(
                f"model {model!r} does not exist on provider {provider!r}", param="model"
            )


def _all_offload(targets: tuple[Target, ...]) -> bool:
    return all(t.provider.settings.kind == "offload" for t in targets)
