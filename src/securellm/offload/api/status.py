"""``GET /ps``: the loaded models as ``ollama ps`` shows them, and the GPU's memory.

Per model: its size (VRAM plus the weights of layers kept in host memory), the CPU/GPU
split, the context it was loaded with, requests in flight, and until when it stays loaded
(``expires_in_s``: seconds of idle time left; ``null`` when pinned, busy or kept forever,
with ``until`` saying which).
"""

from __future__ import annotations

import math
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from securellm.offload.api.routes import gpus_json
from securellm.offload.catalog import load_params
from securellm.offload.estimate import MIB, LoadParams
from securellm.offload.gguf_meta import ModelMeta
from securellm.offload.scheduler import Slot
from securellm.offload.service import OffloadService


def host_mib(meta: ModelMeta | None, params: LoadParams) -> int:
    """MiB of repeating-layer weights left in host memory (llama.cpp offloads the last ngl)."""
    layers = (meta.block_count or 0) if meta else 0
    if meta is None or not meta.layer_bytes or params.ngl >= layers:
        return 0
    on_gpu = range(max(layers - params.ngl, 0), layers)
    kept = sum(size for il, size in enumerate(meta.layer_bytes) if il not in on_gpu)
    return round(kept / MIB)


def processor(vram_mib: int, cpu_mib: int, ngl: int) -> str:
    """Ollama's PROCESSOR column: ``100% GPU``, ``100% CPU`` or ``48%/52% CPU/GPU``."""
    if ngl == 0:
        return "100% CPU"
    if cpu_mib == 0:
        return "100% GPU"
    cpu = round(100 * cpu_mib / (cpu_mib + vram_mib))
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def until(slot: Slot, idle_s: float) -> tuple[str, float | None]:
    """(``pinned`` | ``busy`` | ``forever`` | ``idle``, idle seconds left or None)."""
    if slot.pinned:
        return "pinned", None
    if slot.in_flight:
        return "busy", None
    ttl = slot.idle_ttl_s
    if math.isinf(ttl):
        return "forever", None
    return "idle", max(ttl - idle_s, 0.0)


def slot_json(service: OffloadService, slot: Slot, now: float) -> dict[str, Any]:
    record = service.registry.get(slot.model_id)
    params = load_params(service.settings.offload, record) if record else LoadParams()
    cpu = host_mib(record.meta if record else None, params)
    state, left = until(slot, now - slot.last_used)
    return {
        "model": slot.model_id,
        "size_mib": slot.vram_mib + cpu,
        "vram_mib": slot.vram_mib,
        "cpu_mib": cpu,
        "processor": processor(slot.vram_mib, cpu, params.ngl),
        "context": params.ctx,
        "parallel": params.parallel,
        "in_flight": slot.in_flight,
        "pinned": slot.pinned,
        "until": state,
        "expires_in_s": None if left is None else round(left, 1),
        "expires_at": None if left is None else round(time.time() + left, 1),
    }


def status_json(service: OffloadService) -> dict[str, Any]:
    reading = service.monitor.read()
    now = service.scheduler.clock()
    return {
        "source": reading.source,
        "gpus": gpus_json(reading),
        "models": [slot_json(service, s, now) for s in service.scheduler.slots()],
    }


async def ps(request: Request) -> Response:
    service: OffloadService = request.app.state.service
    return Response(orjson.dumps(status_json(service)), media_type="application/json")
