"""Scheduling policy: eviction order, pinned and busy models, limits, one load per model.

The model servers here are in-process stand-ins behind the scheduler's factory seam (the
real llama.cpp server is exercised in ``test_live.py``); they record starts and stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from securellm.core.config import Settings
from securellm.offload.backends.base import Lifecycle, ServerState
from securellm.offload.catalog import load_params
from securellm.offload.errors import (
    BackendError,
    Conflict,
    InsufficientVram,
    ModelBusy,
    ModelNotFound,
    VramBusy,
)
from securellm.offload.estimate import Buffers, LoadParams
from securellm.offload.gpu import SimulatedGpu, VramMonitor
from securellm.offload.registry import ModelRecord, Registry
from securellm.offload.scheduler import Scheduler
from securellm.offload.service import candidates

from .conftest import TinyWriter


class StandIn:
    kind = "stand-in"

    def __init__(
        self, model_id: str, events: list[str], start_delay: float, fail: bool = False
    ) -> None:
        self.model_id = model_id
        self._fail = fail
        self.upstream_model = model_id
        self.base_url = "http://127.0.0.1:1/v1"
        self._events = events
        self._delay = start_delay
        self._life = Lifecycle()

    @property
    def state(self) -> ServerState:
        return self._life.state

    @property
    def pid(self) -> int | None:
        return None

    async def start(self) -> None:
        self._life.move(ServerState.STARTING)
        self._events.append(f"start {self.model_id}")
        await asyncio.sleep(self._delay)
        if self._fail:
            self._life.move(ServerState.FAILED)
            raise BackendError(f"{self.model_id} crashed")
        self._life.move(ServerState.READY)

    def die(self) -> None:
        self._life.move(ServerState.FAILED)

    async def stop(self) -> None:
        self._life.move(ServerState.STOPPING)
        self._events.append(f"stop {self.model_id}")
        self._life.move(ServerState.STOPPED)

    def buffers(self) -> Buffers | None:
        return None

    async def measured_vram_mib(self) -> int | None:
        return None


class StandInFactory:
    def __init__(self, start_delay: float = 0.0) -> None:
        self.events: list[str] = []
        self.start_delay = start_delay
        self.failing: set[str] = set()

    def create(self, record: ModelRecord, params: LoadParams) -> StandIn:
        return StandIn(record.id, self.events, self.start_delay, record.id in self.failing)

    def release(self, server: Any) -> None:
        pass


Build = Callable[..., tuple[Scheduler, StandInFactory, SimulatedGpu]]


@pytest.fixture
def build(tmp_path: Path, tiny_gguf: TinyWriter, make_settings: Callable[..., Settings]) -> Build:
    """Three tiny models a, b, c; each is estimated at ``overhead`` MiB plus a few KiB."""
    for name in ("a", "b", "c"):
        tiny_gguf(tmp_path / "models" / f"{name}.gguf", vocab=8, embd=8, layers=1)

    def make(vram: int = 2500, start_delay: float = 0.0, **offload: Any) -> Any:
        offload.setdefault("cuda_overhead_mib", 1000)
        offload.setdefault("busy_wait_s", 0.5)
        settings = make_settings(
            model_dirs=[str(tmp_path / "models")], simulated_vram_mib=vram, **offload
        )
        registry = Registry(tmp_path / "registry.db")
        registry.scan(candidates(settings.offload))
        gpu = SimulatedGpu(vram)
        factory = StandInFactory(start_delay)
        scheduler = Scheduler(settings.offload, registry, VramMonitor(gpu, ttl_s=0), factory)
        return scheduler, factory, gpu

    return make


async def _use(scheduler: Scheduler, model_id: str) -> None:
    scheduler.release(await scheduler.acquire(model_id))


async def test_request_loads_the_model_on_demand(build: Build) -> None:
    scheduler, factory, gpu = build()
    await _use(scheduler, "a")
    assert factory.events == ["start a"]
    assert gpu.read().used_mib >= 1000


async def test_second_model_evicts_the_least_recently_used(build: Build) -> None:
    scheduler, factory, _ = build()
    await _use(scheduler, "a")
    await _use(scheduler, "b")
    await _use(scheduler, "a")  # b is now the least recently used
    await _use(scheduler, "c")
    assert factory.events[-2:] == ["stop b", "start c"]


async def test_lower_priority_is_evicted_before_older(build: Build) -> None:
    scheduler, factory, _ = build(models=[{"id": "b", "priority": -1}])
    await _use(scheduler, "a")
    await _use(scheduler, "b")
    await _use(scheduler, "c")
    assert factory.events[-2:] == ["stop b", "start c"]


async def test_pinned_model_is_never_evicted(build: Build) -> None:
    scheduler, factory, _ = build(models=[{"id": "a", "pinned": True}])
    await _use(scheduler, "a")
    await _use(scheduler, "b")
    await _use(scheduler, "c")
    assert "stop a" not in factory.events
    assert "stop b" in factory.events


async def test_busy_model_is_not_evicted_the_load_waits(build: Build) -> None:
    scheduler, factory, _ = build(vram=1500, busy_wait_s=5)
    slot = await scheduler.acquire("a")
    waiting = asyncio.create_task(_use(scheduler, "b"))
    await asyncio.sleep(0.1)
    assert factory.events == ["start a"]  # b waits while a serves
    scheduler.release(slot)
    await waiting
    assert factory.events == ["start a", "stop a", "start b"]


async def test_busy_model_past_the_wait_gives_vram_busy(build: Build) -> None:
    scheduler, factory, _ = build(vram=1500, busy_wait_s=0.2)
    await scheduler.acquire("a")
    with pytest.raises(VramBusy, match="needs about"):
        await scheduler.acquire("b")
    assert "stop a" not in factory.events


async def test_concurrent_requests_share_one_load(build: Build) -> None:
    scheduler, factory, _ = build(start_delay=0.2)
    await asyncio.gather(*(_use(scheduler, "a") for _ in range(5)))
    assert factory.events == ["start a"]


async def test_max_loaded_models_is_respected(build: Build) -> None:
    scheduler, factory, _ = build(vram=100_000, max_loaded=2)
    for name in ("a", "b", "c"):
        await _use(scheduler, name)
    assert len(scheduler.slots()) == 2
    assert "stop a" in factory.events


async def test_model_that_can_never_fit_gives_507_numbers(build: Build) -> None:
    scheduler, _, _ = build(vram=800)
    with pytest.raises(InsufficientVram, match=r"needs about 10\d\d MiB.*has 800 MiB") as info:
        await scheduler.acquire("a")
    assert info.value.status == 507


async def test_unknown_model_is_not_found(build: Build) -> None:
    scheduler, _, _ = build()
    with pytest.raises(ModelNotFound):
        await scheduler.acquire("nope")


async def test_idle_model_is_unloaded_after_its_ttl(build: Build) -> None:
    scheduler, factory, _ = build(models=[{"id": "a", "ttl_s": 0.05}])
    await _use(scheduler, "a")
    await asyncio.sleep(0.1)
    assert await scheduler.reap_idle() == ["a"]
    assert factory.events == ["start a", "stop a"]


async def test_model_in_use_outlives_its_ttl(build: Build) -> None:
    scheduler, _, _ = build(models=[{"id": "a", "ttl_s": 0.05}])
    slot = await scheduler.acquire("a")
    await asyncio.sleep(0.1)
    assert await scheduler.reap_idle() == []
    scheduler.release(slot)


async def test_unload_of_a_busy_model_is_refused_as_model_busy(build: Build) -> None:
    scheduler, _, _ = build()
    await scheduler.acquire("a")
    with pytest.raises(ModelBusy, match="in flight") as refused:
        await scheduler.unload("a")
    assert (refused.value.status, refused.value.code) == (409, "model_busy")


async def test_frozen_scheduler_refuses_loads(build: Build) -> None:
    scheduler, _, _ = build()
    scheduler.frozen = True
    with pytest.raises(Conflict, match="build mode"):
        await scheduler.acquire("a")


async def test_context_is_capped_by_the_model(build: Build) -> None:
    scheduler, _, _ = build(default_ctx=65536)
    record = scheduler.registry.get("a")
    assert record is not None
    assert load_params(scheduler.settings, record).ctx == 2048


async def test_failed_load_gives_back_its_vram_and_can_be_retried(build: Build) -> None:
    scheduler, factory, gpu = build()
    factory.failing.add("a")
    with pytest.raises(BackendError, match="crashed"):
        await scheduler.acquire("a")
    assert gpu.read().used_mib == 0
    factory.failing.clear()
    await _use(scheduler, "a")
    assert factory.events == ["start a", "start a"]


async def test_dead_model_server_is_replaced_on_the_next_request(build: Build) -> None:
    scheduler, factory, _ = build()
    slot = await scheduler.acquire("a")
    scheduler.release(slot)
    assert isinstance(slot.server, StandIn)
    slot.server.die()
    await _use(scheduler, "a")
    assert factory.events == ["start a", "stop a", "start a"]
