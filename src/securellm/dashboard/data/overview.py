"""The overview's figures for one window: totals, a time series, breakdowns, provider health.

Read through the audit index's aggregate queries (:mod:`securellm.gateway.audit.stats`) and
the gateway's live state (circuit breakers, the dispatcher's in-flight counts and smoothed
latency); never SQL on tables from here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from securellm.gateway.audit import stats
from securellm.gateway.resilience.breaker import CircuitState
from securellm.gateway.state import GatewayState


@dataclass(frozen=True)
class Window:
    name: str
    label: str
    seconds: int
    buckets: int
    time_format: str


WINDOWS = {
    w.name: w
    for w in (
        Window("hour", "Last hour", 3600, 60, "%H:%M"),
        Window("day", "Last day", 86400, 24, "%d %b %H:%M"),
        Window("month", "Last 30 days", 30 * 86400, 30, "%d %b"),
    )
}
DEFAULT_WINDOW = "day"


class BadWindow(ValueError):
    """The ``window`` query parameter names no window."""


def window_of(value: str | None) -> Window:
    found = WINDOWS.get(value or DEFAULT_WINDOW)
    if found is None:
        raise BadWindow(f"window must be one of {', '.join(WINDOWS)}")
    return found


def _when(ts: float, fmt: str) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(fmt)


async def gather(state: GatewayState, window: Window, now: float | None = None) -> dict[str, Any]:
    """Everything the overview's live block renders, for ``window`` ending at ``now``."""
    until = time.time() if now is None else now
    since = until - window.seconds
    engine = state.engine
    buckets = await stats.series(engine, since, until, window.buckets)
    totals = stats.sum_of(buckets)
    served = totals["requests"]
    totals["cache_hit_rate"] = totals["cache_hits"] / served if served else None
    return {
        "window": window,
        "windows": list(WINDOWS.values()),
        "since": _when(since, "%Y-%m-%d %H:%M UTC"),
        "until": _when(until, "%Y-%m-%d %H:%M UTC"),
        "totals": totals,
        "buckets": [{**b, "label": _when(b["start"], window.time_format)} for b in buckets],
        "groups": {
            group: await stats.breakdown(engine, group, since, until) for group in stats.GROUPS
        },
        "providers": await providers(state, since, until),
    }


async def providers(state: GatewayState, since: float, until: float) -> list[dict[str, Any]]:
    """Per configured provider: breaker state, live in-flight and smoothed latency (this
    process), p50/p95 and the last 5xx from the audit index in the window."""
    circuits = state.dispatcher.breakers.snapshot()
    live = state.dispatcher.stats
    measured = await stats.latencies(state.engine, since, until)
    out = []
    for name in sorted(state.providers):
        prefix = f"{name}/"
        ewma = [v for k, v in live.latency_ms.items() if k.startswith(prefix)]
        error = await stats.last_error(state.engine, name, since, until)
        if error is not None:
            error["when"] = _when(error["ts"], "%Y-%m-%d %H:%M:%S UTC")
        out.append(
            {
                "name": name,
                "circuit": str(circuits.get(name, CircuitState.CLOSED)),
                "in_flight": sum(v for k, v in live.in_flight.items() if k.startswith(prefix)),
                "ewma_ms": sum(ewma) / len(ewma) if ewma else None,
                **measured.get(name, {"p50_ms": None, "p95_ms": None}),
                "last_error": error,
            }
        )
    return out
