"""Prometheus metrics for one offload instance, in its own registry (no module globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Counters the scheduler and the API update; ``render`` is the ``/metrics`` body."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "offload_requests", "Inference requests", ["model", "status"], registry=self.registry
        )
        self.loads = Counter("offload_loads", "Model loads", ["model"], registry=self.registry)
        self.load_failures = Counter(
            "offload_load_failures", "Failed model loads", ["model"], registry=self.registry
        )
        self.unloads = Counter(
            "offload_unloads", "Model unloads", ["model", "reason"], registry=self.registry
        )
        self.load_seconds = Histogram(
            "offload_load_seconds",
            "Time from load start to healthy",
            buckets=(0.5, 1, 2, 5, 10, 20, 40, 80, 160),
            registry=self.registry,
        )
        self.loaded = Gauge("offload_loaded_models", "Models loaded", registry=self.registry)
        self.vram_used = Gauge(
            "offload_vram_used_mib", "VRAM used (MiB) at the last reading", registry=self.registry
        )
        self.vram_total = Gauge(
            "offload_vram_total_mib", "VRAM total (MiB)", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
