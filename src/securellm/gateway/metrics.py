"""Prometheus metrics for the gateway, in a registry of its own (no process globals).

Labels stay low-cardinality: endpoint, configured provider names, status class, outcome;
token and cost counters add the resolved ``provider/model`` (bounded by the catalog).
With several workers each process exposes its own figures (sum them in Prometheus).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from securellm.gateway.context import RequestContext
from securellm.gateway.resilience.breaker import CircuitState

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_CIRCUIT_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


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
        r = self.registry
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
        self.cache_hits = Counter("securellm_cache_hits", "Responses served from cache", registry=r)
        self.retries = Counter("securellm_retries", "Upstream retries", ["provider"], registry=r)
        self.refusals = Counter(
            "securellm_rate_limit_refusals", "Requests refused by a limit or budget", registry=r
        )
        if circuits is not None:
            r.register(_Circuits(circuits))

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
        if ctx.upstream_model and ctx.provider:
            model = f"{ctx.provider}/{ctx.upstream_model}"
            if ctx.usage.prompt_tokens:
                self.tokens.labels(model, "prompt").inc(ctx.usage.prompt_tokens)
            if ctx.usage.completion_tokens:
                self.tokens.labels(model, "completion").inc(ctx.usage.completion_tokens)
            if ctx.cost_usd:
                self.cost.labels(model).inc(ctx.cost_usd)

    def retry(self, provider: str) -> None:
        self.retries.labels(provider).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
