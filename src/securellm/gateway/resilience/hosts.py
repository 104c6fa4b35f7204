"""What each offload host holds right now, asked over HTTP and cached for about a second.

A probe reads the host's ``GET /health/vram`` (free VRAM, loaded models and their requests in
flight) and, less often, ``GET /models`` (each model's VRAM estimate, for "does it fit").
Each host has at most one probe in flight: concurrent requests share it. A host that does
not answer within ``timeout_s`` is down; while it is down, requests do not wait for it: it
is probed again in the background every ``fresh_s`` and used again once it answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from securellm.core.errors import SecureLLMError
from securellm.providers.base import Provider
from securellm.providers.http import HttpProvider

log = logging.getLogger(__name__)
FRESH_S = 1.0
TIMEOUT_S = 1.0
ESTIMATES_FRESH_S = 30.0


@dataclass(frozen=True)
class HostView:
    """One host at one moment; ``up`` False means it did not answer (the rest is empty)."""

    up: bool
    in_flight: dict[str, int] = field(default_factory=dict)  # loaded model -> requests
    free_mib: int | None = None
    estimates: dict[str, int] = field(default_factory=dict)  # model -> estimated MiB

    def fits(self, model: str) -> bool:
        need = self.estimates.get(model)
        return need is not None and self.free_mib is not None and need <= self.free_mib


DOWN = HostView(up=False)


@dataclass
class _Entry:
    view: HostView | None = None
    at: float = 0.0
    estimates: dict[str, int] = field(default_factory=dict)
    estimates_at: float | None = None
    probe: asyncio.Task[HostView] | None = None
    watch: asyncio.Task[None] | None = None


class HostProbe:
    """Per-provider cache of :class:`HostView`; ``views`` answers for several at once."""

    def __init__(
        self,
        fresh_s: float = FRESH_S,
        timeout_s: float = TIMEOUT_S,
        estimates_fresh_s: float = ESTIMATES_FRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fresh_s = fresh_s
        self.timeout_s = timeout_s
        self.estimates_fresh_s = estimates_fresh_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    async def views(self, providers: Sequence[Provider]) -> dict[str, HostView]:
        """The view of each provider (by name), probing those whose view is stale."""
        unique = {p.name: p for p in providers}
        found = await asyncio.gather(*(self.view(p) for p in unique.values()))
        return dict(zip(unique, found, strict=True))

    async def view(self, provider: Provider) -> HostView:
        entry = self._entries.setdefault(provider.name, _Entry())
        if entry.view is not None and self._clock() - entry.at < self.fresh_s:
            return entry.view
        if entry.probe is None:
            entry.probe = asyncio.create_task(self._probe(provider, entry))
        if entry.view is not None and not entry.view.up:
            return entry.view  # down: skip it now, the probe runs on in the background
        return await asyncio.shield(entry.probe)

    def describe(self) -> dict[str, str]:
        """``up`` or ``down`` per probed host (for the gateway's ``/ready``)."""
        return {
            name: "up" if entry.view.up else "down"
            for name, entry in self._entries.items()
            if entry.view is not None
        }

    async def close(self) -> None:
        tasks = [t for e in self._entries.values() for t in (e.probe, e.watch) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self, provider: Provider, entry: _Entry) -> None:
        """Probe a host that is down every ``fresh_s`` until it answers."""
        try:
            while True:
                await asyncio.sleep(self.fresh_s)
                if entry.probe is None:
                    entry.probe = asyncio.create_task(self._probe(provider, entry))
                if (await asyncio.shield(entry.probe)).up:
                    return
        finally:
            entry.watch = None

    async def _probe(self, provider: Provider, entry: _Entry) -> HostView:
        try:
            view = await self._read(provider, entry)
        except (SecureLLMError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            log.info("offload host is down", extra={"provider": provider.name, "error": str(exc)})
            view = DOWN
        except BaseException:
            entry.probe = None
            raise
        entry.view, entry.at, entry.probe = view, self._clock(), None
        if not view.up and entry.watch is None:
            entry.watch = asyncio.create_task(self._watch(provider, entry))
        return view

    async def _read(self, provider: Provider, entry: _Entry) -> HostView:
        if not isinstance(provider, HttpProvider):
            raise ValueError(f"provider {provider.name!r} has no HTTP API to probe")
        client = provider.client
        async with asyncio.timeout(self.timeout_s):
            vram = await client.get_json("/health/vram", timeout=self.timeout_s, root=True)
            stale = entry.estimates_at is None or (
                self._clock() - entry.estimates_at >= self.estimates_fresh_s
            )
            if stale:
                models = await client.get_json("/models", timeout=self.timeout_s, root=True)
                entry.estimates, entry.estimates_at = _estimates(models), self._clock()
        return HostView(
            up=True,
            in_flight={m["model"]: int(m.get("in_flight", 0)) for m in vram["loaded"]},
            free_mib=sum(int(g["free_mib"]) for g in vram["gpus"]) if vram["gpus"] else None,
            estimates=entry.estimates,
        )


def _estimates(models: Any) -> dict[str, int]:
    return {
        m["id"]: int(m["estimate_mib"])
        for m in models["data"]
        if m.get("usable") and isinstance(m.get("estimate_mib"), int)
    }
