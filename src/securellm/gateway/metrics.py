"""Prometheus metrics for the gateway.

One process (``create_app`` in tests, ``securellm up``, ``securellm gateway`` with one worker):
every figure lives in a registry of the :class:`Metrics` object (no process globals).

Several workers (``securellm gateway --workers N``): the command points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh private directory before the workers start, so
prometheus-client writes every value to a per-process mmap file there, and a scrape of
``/metrics`` on any worker merges the files of all workers: counters and histograms are the
totals of every worker (those of exited workers included, so nothing goes backwards), and
the worker gauge counts live workers only.

Labels stay low-cardinality: endpoint, configured provider names, status class, outcome;
token and cost counters add the resolved ``provider/model`` (bounded by the catalog); the
per-key counters use the key's id (bounded by the number of keys).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from securellm.gateway.context import RequestContext
from securellm.gateway.resilience.breaker import CircuitState

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # the variable prometheus-client itself reads
_CIRCUIT_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


def multiprocess_dir() -> Path | None:
    """The shared directory when prometheus-client runs in multiprocess mode, else ``None``.

    prometheus-client chooses its value class once, at import, from ``PROMETHEUS_MULTIPROC_DIR``;
    this asks that choice rather than the environment alone, so both always agree.
    """
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    return Path(os.environ[MULTIPROC_ENV])


class _Circuits(Collector):
    """Reads circuit states at scrape time: 0 closed, 1 half-open, 2 open."""

    def __init__(self, snapshot: Callable[[], dict[str, CircuitState]]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "securellm_circuit_state",
            "Circuit breaker state per provider (0 closed, 1 half-open, 2 open)",
            labels=["provider"],
        )
        for provider, state in sorted(self.snapshot().items()):
            family.add_metric([provider], _CIRCUIT_VALUE[state])
        yield family


class Metrics:
    """An ``OutcomeSink`` that counts every finished request."""

    def __init__(self, circuits: Callable[[], dict[str, CircuitState]] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._shared = multiprocess_dir()
        self._circuits = _Circuits(circuits) if circuits is not None else None
        self._define(self.registry)
        self.workers.set(1)
        if self._circuits is not None:
            self.registry.register(self._circuits)

    def _define(self, r: CollectorRegistry) -> None:
        self.requests = Counter(
            "securellm_requests", "Requests by outcome",
            ["endpoint", "provider", "status_class", "outcome"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "securellm_request_duration_seconds", "Time from arrival to the last byte",
            ["endpoint", "provider"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.ttft = Histogram(
            "securellm_time_to_first_token_seconds", "Time from arrival to the first streamed byte",
            ["provider"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "securellm_tokens", "Tokens by direction", ["model", "direction"], registry=r
        )
        self.cost = Counter("securellm_cost_usd", "Estimated spend in USD", ["model"], registry=r)
        self.key_requests = Counter(
            "securellm_key_requests", "Requests per virtual key (label: key id)",
            ["key", "status_class"], registry=r,
        )  # fmt: skip
        self.key_tokens = Counter(
            "securellm_key_tokens", "Tokens per virtual key (label: key id) by direction",
            ["key", "direction"], registry=r,
        )  # fmt: skip
        self.cache_hits = Counter("securellm_cache_hits", "Responses served from cache", registry=r)
        self.retries = Counter("securellm_retries", "Upstream retries", ["provider"], registry=r)
        self.refusals = Counter(
            "securellm_rate_limit_refusals", "Requests refused by a limit or budget", registry=r
        )
        self.workers = Gauge(
            "securellm_worker_processes", "Gateway worker processes serving now",
            registry=r, multiprocess_mode="livesum",
        )  # fmt: skip

    def record(self, ctx: RequestContext) -> None:
        provider = ctx.provider or "none"
        status_class = f"{ctx.status // 100}xx"
        self.requests.labels(ctx.endpoint, provider, status_class, ctx.outcome).inc()
        self.latency.labels(ctx.endpoint, provider).observe(ctx.duration_ms / 1000.0)
        if ctx.first_byte_at is not None:
            self.ttft.labels(provider).observe(ctx.first_byte_at - ctx.started)
        if ctx.outcome == "cache_hit":
            self.cache_hits.inc()
        if ctx.status == 429 and ctx.provider is None:  # refused by our limits or budgets
            self.refusals.inc()
        if ctx.key is not None:
            self._record_key(ctx.key.id, status_class, ctx)
        if ctx.upstream_model and ctx.provider:
            model = f"{ctx.provider}/{ctx.upstream_model}"
            if ctx.usage.prompt_tokens:
                self.tokens.labels(model, "prompt").inc(ctx.usage.prompt_tokens)
            if ctx.usage.completion_tokens:
                self.tokens.labels(model, "completion").inc(ctx.usage.completion_tokens)
            if ctx.cost_usd:
                self.cost.labels(model).inc(ctx.cost_usd)

    def _record_key(self, key_id: str, status_class: str, ctx: RequestContext) -> None:
        self.key_requests.labels(key_id, status_class).inc()
        if ctx.usage.prompt_tokens:
            self.key_tokens.labels(key_id, "prompt").inc(ctx.usage.prompt_tokens)
        if ctx.usage.completion_tokens:
            self.key_tokens.labels(key_id, "completion").inc(ctx.usage.completion_tokens)

    def retry(self, provider: str) -> None:
        self.retries.labels(provider).inc()

    def render(self) -> bytes:
        """The ``/metrics`` body: this process's registry, or every worker's files merged."""
        if self._shared is None:
            return generate_latest(self.registry)
        forget_dead_workers(self._shared)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=str(self._shared))  # type: ignore[no-untyped-call]
        if self._circuits is not None:
            merged.register(self._circuits)
        return generate_latest(merged)


def forget_dead_workers(directory: Path) -> None:
    """Drop the live-gauge files of workers that exited (SIGKILL included); counters stay."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process holds that pid: not one of ours
        return False
    return True
