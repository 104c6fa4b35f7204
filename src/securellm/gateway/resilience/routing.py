"""Order in which an alias's targets are tried: fallback, weighted, least-busy, lowest-latency,
and loaded-first (offload hosts, by what each holds: see :func:`by_host`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from securellm.gateway.catalog import Route, Target
from securellm.gateway.resilience.hosts import HostView

EWMA_ALPHA = 0.2
LOADED_FIRST = "loaded-first"


@dataclass
class TargetStats:
    """Live figures per ``provider/model``: requests in flight and smoothed latency."""

    in_flight: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)

    def started(self, target: Target) -> None:
        key = target.public_id
        self.in_flight[key] = self.in_flight.get(key, 0) + 1

    def ended(self, target: Target) -> None:
        key = target.public_id
        self.in_flight[key] = max(0, self.in_flight.get(key, 0) - 1)

    def observe(self, target: Target, elapsed_ms: float) -> None:
        """Fold a response time (to the first byte, for streams) into the moving average."""
        key = target.public_id
        previous = self.latency_ms.get(key)
        self.latency_ms[key] = (
            elapsed_ms if previous is None else previous + EWMA_ALPHA * (elapsed_ms - previous)
        )


def ordered_targets(
    route: Route, stats: TargetStats, rng: random.Random | None = None
) -> list[Target]:
    """The route's targets in the order to try them; the rest follow as fallbacks."""
    targets = list(route.targets)
    if len(targets) < 2 or route.strategy in ("fallback", LOADED_FIRST):
        return targets
    if route.strategy == "weighted":
        return _weighted(targets, route.weights, rng or random.Random())  # noqa: S311
    if route.strategy == "least-busy":
        return sorted(targets, key=lambda t: stats.in_flight.get(t.public_id, 0))
    # lowest-latency: unmeasured targets first, so each gets measured once
    return sorted(targets, key=lambda t: stats.latency_ms.get(t.public_id, -1.0))


def _weighted(
    targets: list[Target], weights: Sequence[float] | None, rng: random.Random
) -> list[Target]:
    remaining = list(zip(targets, weights or [1.0] * len(targets), strict=False))
    order: list[Target] = []
    while remaining:
        total = sum(w for _, w in remaining)
        pick = rng.uniform(0, total) if total > 0 else 0.0
        for index, (target, weight) in enumerate(remaining):
            pick -= weight
            if pick <= 0 or index == len(remaining) - 1:
                order.append(target)
                del remaining[index]
                break
    return order


def host_rank(target: Target, views: dict[str, HostView]) -> tuple[int, int] | None:
    """(tier, requests in flight), lower first; ``None`` for a host that is down.

    Tiers: 0 the model is loaded and idle, 1 loaded and busy, 2 it fits in free VRAM, 3 any.
    """
    view = views.get(target.provider.name)
    if view is None or not view.up:
        return None
    busy = view.in_flight.get(target.model)
    if busy is not None:
        return (0 if busy == 0 else 1), busy
    return (2 if view.fits(target.model) else 3), 0


def by_host(targets: Sequence[Target], views: dict[str, HostView]) -> list[Target]:
    """Targets on hosts that answer, best first (ties keep the configured order).

    Hosts that are down are left out; when every host is down the configured order is
    kept, so the client gets the real error.
    """
    ranked = [(host_rank(t, views), index, t) for index, t in enumerate(targets)]
    up = [(rank, index, t) for rank, index, t in ranked if rank is not None]
    if not up:
        return list(targets)
    return [t for _, _, t in sorted(up, key=lambda item: (item[0], item[1]))]
