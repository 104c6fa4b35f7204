"""The order an alias's targets are tried in, per strategy."""

from __future__ import annotations

import random

from securellm.core.config import ProviderSettings
from securellm.gateway.catalog import Route, Target
from securellm.gateway.resilience.routing import TargetStats, ordered_targets
from securellm.providers.base import Provider


def targets(*names: str) -> tuple[Target, ...]:
    return tuple(Target(Provider(ProviderSettings(name=n)), "m") for n in names)


def ids(order: list[Target]) -> list[str]:
    return [t.provider.name for t in order]


def test_fallback_keeps_the_configured_order() -> None:
    route = Route("a", targets("x", "y", "z"), "fallback")
    assert ids(ordered_targets(route, TargetStats())) == ["x", "y", "z"]


def test_least_busy_puts_the_target_with_fewest_requests_in_flight_first() -> None:
    route = Route("a", targets("x", "y"), "least-busy")
    stats = TargetStats()
    stats.started(route.targets[0])
    assert ids(ordered_targets(route, stats)) == ["y", "x"]


def test_lowest_latency_prefers_the_faster_target() -> None:
    route = Route("a", targets("x", "y"), "lowest-latency")
    stats = TargetStats()
    stats.observe(route.targets[0], 300.0)
    stats.observe(route.targets[1], 20.0)
    assert ids(ordered_targets(route, stats)) == ["y", "x"]


def test_lowest_latency_tries_an_unmeasured_target_first() -> None:
    route = Route("a", targets("x", "y"), "lowest-latency")
    stats = TargetStats()
    stats.observe(route.targets[0], 5.0)
    assert ids(ordered_targets(route, stats)) == ["y", "x"]


def test_weighted_follows_the_weights_and_keeps_the_rest_as_fallbacks() -> None:
    route = Route("a", targets("x", "y"), "weighted", (9.0, 1.0))
    rng = random.Random(7)
    firsts = [ids(ordered_targets(route, TargetStats(), rng)) for _ in range(1000)]
    share_x = sum(order[0] == "x" for order in firsts) / len(firsts)
    assert 0.85 < share_x < 0.95
    assert all(sorted(order) == ["x", "y"] for order in firsts)


def test_latency_is_a_moving_average() -> None:
    stats = TargetStats()
    (target,) = targets("x")
    stats.observe(target, 100.0)
    stats.observe(target, 200.0)
    assert stats.latency_ms["x/m"] == 120.0
