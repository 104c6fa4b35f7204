"""Request handlers; each reaches the service through the app state, nothing global."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from securellm.offload.api.proxy import forward
from securellm.offload.api.tokenize import tokenize
from securellm.offload.backends.ollama import running_models
from securellm.offload.backends.remote import probe_openai
from securellm.offload.catalog import load_params, model_detail, model_entry
from securellm.offload.errors import BadRequest, Conflict, ModelNotFound, OffloadError
from securellm.offload.gpu.base import VramReading
from securellm.offload.service import OffloadService


def _service(request: Request) -> OffloadService:
    service: OffloadService = request.app.state.service
    return service


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def health(_request: Request) -> Response:
    return _json({"status": "ok"})


def gpus_json(reading: VramReading) -> list[dict[str, Any]]:
    """Each GPU's memory, as ``/health/vram`` and ``/ps`` show it."""
    return [
        {
            "index": g.index,
            "name": g.name,
            "total_mib": g.total_mib,
            "used_mib": g.used_mib,
            "free_mib": g.free_mib,
        }
        for g in reading.gpus
    ]


def vram_json(service: OffloadService) -> dict[str, Any]:
    reading = service.monitor.read()
    return {
        "source": reading.source,
        "gpus": gpus_json(reading),
        "loaded": [
            {"model": s.model_id, "vram_mib": s.vram_mib, "in_flight": s.in_flight}
            for s in service.scheduler.slots()
        ],
    }


async def health_vram(request: Request) -> Response:
    return _json(vram_json(_service(request)))


async def openai_models(request: Request) -> Response:
    service = _service(request)
    await service.scanned()
    config = service.settings.offload
    # context_length: what each model is loaded with, so the gateway fits max_tokens to it.
    data = [
        {
            "id": r.id,
            "object": "model",
            "created": 0,
            "owned_by": "offload",
            "context_length": load_params(config, r).ctx,
        }
        for r in service.registry.all()
        if r.usable
    ]
    return _json({"object": "list", "data": data})


async def chat_completions(request: Request) -> Response:
    return await forward(_service(request), request, "/chat/completions")


async def completions(request: Request) -> Response:
    return await forward(_service(request), request, "/completions")


async def tokenize_text(request: Request) -> Response:
    return await tokenize(_service(request), request)


async def list_models(request: Request) -> Response:
    service = _service(request)
    await service.scanned()
    config = service.settings.offload
    data = [
        model_entry(config, service.registry, r, service.scheduler.is_loaded(r.id))
        for r in service.registry.all()
    ]
    return _json({"data": data})


async def scan_models(request: Request) -> Response:
    report = await _service(request).scan()
    return _json(report.to_json())


async def show_model(request: Request) -> Response:
    service = _service(request)
    model_id = request.path_params["model_id"]
    record = service.registry.find(model_id)
    if record is None:
        raise ModelNotFound(f"model {model_id!r} is not in the registry")
    loaded = service.scheduler.is_loaded(model_id)
    return _json(model_detail(service.settings.offload, service.registry, record, loaded))


async def load_model(request: Request) -> Response:
    service = _service(request)
    model_id = request.path_params["model_id"]
    await service.scheduler.load(model_id)
    vram = next((s.vram_mib for s in service.scheduler.slots() if s.model_id == model_id), None)
    return _json({"model": model_id, "loaded": vram is not None, "vram_mib": vram})


async def unload_model(request: Request) -> Response:
    service = _service(request)
    model_id = request.path_params["model_id"]
    if service.registry.find(model_id) is None:
        raise ModelNotFound(f"model {model_id!r} is not in the registry")
    was_loaded = await service.scheduler.unload(model_id)
    return _json({"model": model_id, "loaded": False, "was_loaded": was_loaded})


async def pin_model(request: Request) -> Response:
    """``{"pinned": true|false}``: keep a loaded model from eviction and idle unloading."""
    service = _service(request)
    model_id = request.path_params["model_id"]
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        raise BadRequest('body must be JSON like {"pinned": true}') from None
    pinned = body.get("pinned", True) if isinstance(body, dict) else None
    if not isinstance(pinned, bool):
        raise BadRequest('body must be JSON like {"pinned": true}')
    if service.registry.find(model_id) is None:
        raise ModelNotFound(f"model {model_id!r} is not in the registry")
    slot = next((s for s in service.scheduler.slots() if s.model_id == model_id), None)
    if slot is None:
        raise Conflict(f"model {model_id!r} is not loaded; load it before pinning")
    slot.pinned = pinned
    return _json({"model": model_id, "pinned": pinned})


async def backends(request: Request) -> Response:
    service = _service(request)
    config = service.settings.offload
    found: list[dict[str, Any]] = [
        {"name": s.model_id, **s.to_json(), **service.admission.stats(s.model_id)}
        for s in service.scheduler.slots()
    ]
    if config.ollama_url:
        found.append(await _ollama_status(service, config.ollama_url))
    probes = [probe_openai(service.session, r.name, r.base_url) for r in config.remotes]
    found.extend(await asyncio.gather(*probes))
    return _json({"data": found})


async def _ollama_status(service: OffloadService, url: str) -> dict[str, Any]:
    status: dict[str, Any] = {"name": "ollama", "kind": "ollama", "base_url": url}
    try:
        running = await running_models(service.session, url)
    except OffloadError as exc:
        return {**status, "healthy": False, "models": [], "error": str(exc)}
    return {**status, "healthy": True, "models": [m.get("name") for m in running], "error": None}


async def get_mode(request: Request) -> Response:
    return _json({"mode": _service(request).modes.mode})


async def set_mode(request: Request) -> Response:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise BadRequest('body must be JSON like {"mode": "build"}') from None
    mode = body.get("mode") if isinstance(body, dict) else None
    if not isinstance(mode, str):
        raise BadRequest('body must be JSON like {"mode": "build"}')
    report = await _service(request).modes.switch(mode)
    return _json(report.to_json())


async def metrics(request: Request) -> Response:
    service = _service(request)
    reading = service.monitor.read()
    service.metrics.vram_used.set(reading.used_mib)
    service.metrics.vram_total.set(reading.total_mib)
    return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")
