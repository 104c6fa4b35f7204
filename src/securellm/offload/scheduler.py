"""Route requests to loaded models; load on demand after evicting idle models to make room.

Eviction order: lowest priority first, then least recently used; a model with requests in
flight (or callers waiting for it) is never evicted, nor a pinned one. Concurrent requests
for the same model wait on one load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from securellm.core.config import OffloadSettings
from securellm.offload.backends.base import ModelServer, ServerState
from securellm.offload.catalog import load_params, model_estimate
from securellm.offload.errors import (
    Conflict,
    InsufficientVram,
    ModelBusy,
    ModelNotFound,
    ModelUnusable,
    OffloadError,
    VramBusy,
)
from securellm.offload.estimate import Estimate, LoadParams
from securellm.offload.gpu.base import VramMonitor
from securellm.offload.gpu.simulated import SimulatedGpu
from securellm.offload.hostmem import refuse_without_host_room
from securellm.offload.metrics import Metrics
from securellm.offload.registry import ModelRecord, Registry

log = logging.getLogger(__name__)


class ServerFactory(Protocol):
    """Builds the right server for a registry record; ``release`` frees what it handed out."""

    def create(self, record: ModelRecord, params: LoadParams) -> ModelServer: ...

    def release(self, server: ModelServer) -> None: ...


@dataclass
class Slot:
    """A loaded model and the bookkeeping the eviction policy needs."""

    model_id: str
    server: ModelServer
    vram_mib: int
    priority: int
    pinned: bool
    ttl_s: float
    last_used: float
    in_flight: int = 0
    loaded_at: float = field(default_factory=time.time)
    keep_alive_s: float | None = None  # the last request's ``keep_alive``, else ``ttl_s``

    @property
    def idle_ttl_s(self) -> float:
        return self.ttl_s if self.keep_alive_s is None else self.keep_alive_s

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "vram_mib": self.vram_mib,
            "kind": self.server.kind,
            "state": self.server.state.value,
            "pid": self.server.pid,
            "base_url": self.server.base_url,
            "in_flight": self.in_flight,
            "pinned": self.pinned,
            "priority": self.priority,
        }


class Scheduler:
    """Owns every loaded model; all loads and unloads go through its lock."""

    def __init__(
        self,
        settings: OffloadSettings,
        registry: Registry,
        monitor: VramMonitor,
        factory: ServerFactory,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self._monitor = monitor
        self._factory = factory
        self._metrics = metrics or Metrics()
        self._clock = clock
        self._slots: dict[str, Slot] = {}
        self._loading: dict[str, asyncio.Task[None]] = {}
        self._wanted: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._released = asyncio.Event()
        self._reaps: set[asyncio.Task[None]] = set()
        self.frozen = False

    @property
    def simulated(self) -> SimulatedGpu | None:
        reader = self._monitor.reader
        return reader if isinstance(reader, SimulatedGpu) else None

    def slots(self) -> list[Slot]:
        return list(self._slots.values())

    def clock(self) -> float:
        """The clock ``Slot.last_used`` is read on."""
        return self._clock()

    def is_loaded(self, model_id: str) -> bool:
        return model_id in self._slots

    # estimates ---------------------------------------------------------------------------

    def params_for(self, record: ModelRecord) -> LoadParams:
        return load_params(self.settings, record)

    def estimate_for(self, record: ModelRecord) -> Estimate | None:
        return model_estimate(self.settings, self.registry, record)

    # requests ----------------------------------------------------------------------------

    async def acquire(self, model_id: str) -> Slot:
        """The model's slot with one more request in flight; loads it first if needed."""
        self._wanted[model_id] = self._wanted.get(model_id, 0) + 1
        try:
            while True:
                slot = self._slots.get(model_id)
                if slot is not None and slot.server.state is ServerState.READY:
                    slot.in_flight += 1
                    slot.last_used = self._clock()
                    return slot
                await self.load(model_id)
        finally:
            self._wanted[model_id] -= 1
            if not self._wanted[model_id]:
                del self._wanted[model_id]

    def release(self, slot: Slot, keep_alive_s: float | None = None) -> None:
        """One request on ``slot`` finished; its ``keep_alive`` (if any) sets the idle timer."""
        slot.in_flight = max(slot.in_flight - 1, 0)
        slot.last_used = self._clock()
        slot.keep_alive_s = keep_alive_s
        self._released.set()
        self._released = asyncio.Event()
        if keep_alive_s == 0 and not slot.in_flight:
            task = asyncio.get_running_loop().create_task(self._reap_once())
            self._reaps.add(task)
            task.add_done_callback(self._reaps.discard)

    async def load(self, model_id: str) -> None:
        """Load ``model_id`` (or join the load already running for it)."""
        slot = self._slots.get(model_id)
        if slot is not None and slot.server.state is ServerState.READY:
            return
        if slot is not None:  # its process died: forget it, then load afresh
            async with self._lock:
                if self._slots.get(model_id) is slot:
                    await self._unload(slot, reason="died")
        if self.frozen:
            raise Conflict("the GPU is in build mode; run `securellm gpu mode local` first")
        task = self._loading.get(model_id)
        if task is None:
            task = asyncio.create_task(self._load(model_id), name=f"load {model_id}")
            self._loading[model_id] = task
            task.add_done_callback(lambda done: self._load_finished(model_id, done))
        await asyncio.shield(task)

    def _load_finished(self, model_id: str, task: asyncio.Task[None]) -> None:
        if self._loading.get(model_id) is task:
            del self._loading[model_id]
        if not task.cancelled() and task.exception() is not None:
            log.warning("loading %s failed: %s", model_id, task.exception())

    def _record(self, model_id: str) -> ModelRecord:
        record = self.registry.find(model_id)
        if record is None:
            raise ModelNotFound(
                f"model {model_id!r} is not in the registry (try POST /models/scan)"
            )
        if not record.usable:
            raise ModelUnusable(f"model {model_id!r} is unusable: {record.reason}")
        return record

    async def _load(self, model_id: str) -> None:
        record = self._record(model_id)
        params = self.params_for(record)
        guess = self.estimate_for(record)
        need = guess.total_mib if guess else self.settings.cuda_overhead_mib
        self._capacity_check(model_id, need)  # "never fits the GPU" is the first answer
        refuse_without_host_room(self.settings, record, params, guess, bool(self.simulated))
        async with self._lock:
            if model_id in self._slots:
                return
            await self._make_room(model_id, need)
            await self._start(record, params, need)

    async def _start(self, record: ModelRecord, params: LoadParams, need: int) -> None:
        policy = self.settings.policy(record.id)
        server = self._factory.create(record, params)
        sim = self.simulated
        if sim:
            sim.account(record.id, need)
        started = self._clock()
        try:
            await server.start()
        except BaseException:
            if sim:
                sim.release(record.id)
            self._factory.release(server)
            self._monitor.invalidate()
            self._metrics.load_failures.labels(record.id).inc()
            raise
        vram = await self._measure(record, params, server, need)
        if sim:
            sim.account(record.id, vram)
        self._slots[record.id] = Slot(
            model_id=record.id,
            server=server,
            vram_mib=vram,
            priority=policy.priority,
            pinned=policy.pinned,
            ttl_s=policy.ttl_s or self.settings.idle_ttl_s,
            last_used=self._clock(),
        )
        self._monitor.invalidate()
        self._metrics.loads.labels(record.id).inc()
        self._metrics.load_seconds.observe(self._clock() - started)
        self._metrics.loaded.set(len(self._slots))
        log.info("loaded %s (%d MiB)", record.id, vram)

    async def _measure(
        self, record: ModelRecord, params: LoadParams, server: ModelServer, need: int
    ) -> int:
        """Store the logged buffers as this model's calibration; return its VRAM in MiB."""
        buffers = server.buffers()
        if buffers is not None:
            self.registry.save_calibration(record.id, params, buffers)
            calibrated = self.estimate_for(record)
            return calibrated.total_mib if calibrated else need
        try:
            measured = await server.measured_vram_mib()
        except OffloadError:
            measured = None
        return measured or need

    # making room -------------------------------------------------------------------------

    def _evictable(self, keep: str) -> list[Slot]:
        idle = [
            s
            for s in self._slots.values()
            if s.model_id != keep
            and not s.pinned
            and s.in_flight == 0
            and not self._wanted.get(s.model_id)
        ]
        return sorted(idle, key=lambda s: (s.priority, s.last_used))

    def _capacity_check(self, model_id: str, need: int) -> None:
        self._monitor.invalidate()
        reading = self._monitor.read()
        reserve = self.settings.vram_reserve_mib if not self.simulated else 0
        usable = reading.total_mib - reserve
        pinned = sum(
            s.vram_mib for s in self._slots.values() if s.pinned and s.model_id != model_id
        )
        if need > usable - pinned:
            raise InsufficientVram(
                f"model {model_id!r} needs about {need} MiB of VRAM; the GPU has "
                f"{reading.total_mib} MiB ({reserve} MiB reserved, {pinned} MiB held by pinned "
                "models), so it can never fit"
            )

    def _free_mib(self) -> int:
        self._monitor.invalidate()
        reserve = self.settings.vram_reserve_mib if not self.simulated else 0
        return self._monitor.read().free_mib - reserve

    async def _make_room(self, model_id: str, need: int) -> None:
        self._capacity_check(model_id, need)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.busy_wait_s
        while True:
            free = self._free_mib()
            if free >= need and len(self._slots) < self.settings.max_loaded:
                return
            victims = self._evictable(keep=model_id)
            if victims:
                await self._unload(victims[0], reason="evicted")
                continue
            busy = [s for s in self._slots.values() if s.in_flight or self._wanted.get(s.model_id)]
            remaining = deadline - loop.time()
            if not busy or remaining <= 0:
                raise VramBusy(
                    f"model {model_id!r} needs about {need} MiB but only {max(free, 0)} MiB are "
                    f"free; busy or pinned models: "
                    f"{', '.join(s.model_id for s in self._slots.values()) or 'none'}"
                    + ("" if self._slots else " (other processes hold the memory)")
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), remaining)

    # unloading ---------------------------------------------------------------------------

    async def _unload(self, slot: Slot, reason: str) -> None:
        self._slots.pop(slot.model_id, None)
        try:
            await slot.server.stop()
        finally:
            self._factory.release(slot.server)
            sim = self.simulated
            if sim:
                sim.release(slot.model_id)
            self._monitor.invalidate()
            self._metrics.unloads.labels(slot.model_id, reason).inc()
            self._metrics.loaded.set(len(self._slots))
            log.info("unloaded %s (%s)", slot.model_id, reason)

    async def unload(self, model_id: str) -> bool:
        """Unload on request; refuses while requests are in flight. False if not loaded."""
        async with self._lock:
            slot = self._slots.get(model_id)
            if slot is None:
                return False
            if slot.in_flight:
                raise ModelBusy(f"model {model_id!r} has {slot.in_flight} requests in flight")
            await self._unload(slot, reason="requested")
            return True

    async def unload_all(self, drain_s: float = 0.0) -> list[str]:
        """Unload everything (build mode, shutdown); wait up to ``drain_s`` for requests first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_s
        while any(s.in_flight for s in self._slots.values()) and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), deadline - loop.time())
        async with self._lock:
            names = list(self._slots)
            for slot in list(self._slots.values()):
                await self._unload(slot, reason="all")
            return names

    async def reap_idle(self) -> list[str]:
        """Unload models idle longer than their TTL; returns their ids."""
        now = self._clock()
        expired = [
            s
            for s in self._slots.values()
            if not s.pinned
            and not s.in_flight
            and not self._wanted.get(s.model_id)
            and now - s.last_used >= s.idle_ttl_s
        ]
        if not expired:
            return []
        async with self._lock:
            for slot in expired:
                if self._slots.get(slot.model_id) is slot and not slot.in_flight:
                    await self._unload(slot, reason="idle")
        return [s.model_id for s in expired]

    async def run_reaper(self, interval_s: float = 1.0) -> None:
        """Background task: ``reap_idle`` every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.reap_idle()
            except Exception:  # a failed stop must not end the reaper
                log.exception("idle unload failed")

    async def _reap_once(self) -> None:
        try:
            await self.reap_idle()
        except Exception:  # a failed stop must not end the reaper
            log.exception("idle unload failed")
