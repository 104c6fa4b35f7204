"""Which buckets a request must pass: its key's, its provider's and its model's."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fnmatch import fnmatchcase

from securellm.core.config import GatewaySettings, ProviderSettings
from securellm.gateway.keys import KeyRecord
from securellm.gateway.limits.gcra import Bucket, Concurrency, Kind, Scope

Template = tuple[Bucket, ...]
CACHE_MAX = 10_000


class LimitPlan:
    """Turns settings and a key into the list of buckets for one request.

    The buckets of a (key, provider, model) are worked out once and cached; per request
    only the token buckets' cost changes.
    """

    def __init__(self, gateway: GatewaySettings, providers: Mapping[str, ProviderSettings]) -> None:
        self.ratio = gateway.burst_ratio
        self.model_limits = dict(gateway.model_limits)
        self.providers = dict(providers)
        self._templates: dict[tuple[object, ...], Template] = {}

    def capacity(self, limit: int, burst: int | None = None) -> int:
        return burst or max(1, math.ceil(limit * self.ratio))

    def _bucket(
        self,
        name: str,
        scope: Scope,
        kind: Kind,
        limit: int | None,
        burst: int | None,
        preset: str | None = None,
    ) -> Bucket | None:
        if limit is None:
            return None
        return Bucket(name, limit, self.capacity(limit, burst), 1, kind, scope, preset)

    def buckets(
        self, key: KeyRecord, provider: str, public_model: str, qualified: str, tokens: int
    ) -> list[Bucket]:
        cache_key = (key.id, key.rpm, key.tpm, key.is_master, provider, public_model, qualified)
        template = self._templates.get(cache_key)
        if template is None:
            if len(self._templates) >= CACHE_MAX:
                self._templates.clear()
            template = self._template(key, provider, public_model, qualified)
            self._templates[cache_key] = template
        if tokens <= 0:
            return [b for b in template if b.kind == "requests"]
        return [b if b.kind == "requests" else b.costing(tokens) for b in template]

    def _template(
        self, key: KeyRecord, provider: str, public_model: str, qualified: str
    ) -> Template:
        found: list[Bucket | None] = []
        if not key.is_master:
            found += [
                self._bucket(f"key:{key.id}:req", "key", "requests", key.rpm, None),
                self._bucket(f"key:{key.id}:tok", "key", "tokens", key.tpm, None),
            ]
        settings = self.providers.get(provider)
        if settings is not None:
            rpm = settings.rpm or settings.preset.rpm
            burst = settings.burst or (settings.preset.burst if not settings.rpm else None)
            # Named in the refusal and logged, so a user sees which preset throttles them.
            preset = settings.kind if settings.rpm is None and rpm is not None else None
            found += [
                self._bucket(f"prov:{provider}:req", "provider", "requests", rpm, burst, preset),
                self._bucket(f"prov:{provider}:tok", "provider", "tokens", settings.tpm, None),
            ]
        for pattern, limit in self.model_limits.items():
            if fnmatchcase(qualified, pattern) or fnmatchcase(public_model, pattern):
                found += [
                    self._bucket(f"model:{pattern}:req", "model", "requests", limit.rpm, None),
                    self._bucket(f"model:{pattern}:tok", "model", "tokens", limit.tpm, None),
                ]
                break
        return tuple(b for b in found if b is not None)

    @staticmethod
    def concurrency(key: KeyRecord, request_id: str) -> Concurrency | None:
        if key.max_concurrency is None or key.is_master:
            return None
        return Concurrency(f"key:{key.id}", key.max_concurrency, request_id)
