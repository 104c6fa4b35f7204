"""Per-model load parameters, estimates and the JSON shape of ``GET /models``."""

from __future__ import annotations

from typing import Any

from securellm.core.config import OffloadSettings
from securellm.offload.admission import effective_parallel
from securellm.offload.chat_format import resolve
from securellm.offload.estimate import Estimate, LoadParams, estimate
from securellm.offload.hostmem import mem_available_mib, record_host_need
from securellm.offload.registry import ModelRecord, Registry


def load_params(settings: OffloadSettings, record: ModelRecord) -> LoadParams:
    """How ``record`` is loaded: its policy's context and layers, else the defaults."""
    policy = settings.policy(record.id)
    ctx = policy.ctx or settings.default_ctx
    if record.meta and record.meta.context_length:
        ctx = min(ctx, record.meta.context_length)
    return LoadParams(
        ctx=ctx,
        parallel=effective_parallel(settings, record.id),
        n_ubatch=settings.n_ubatch,
        cache_type_k=settings.cache_type_k,
        cache_type_v=settings.cache_type_v,
        flash_attn=settings.flash_attn,
        swa_full=settings.swa_full,
        ngl=999 if policy.ngl is None else policy.ngl,
        embeddings=settings.serves_embeddings,
    )


def model_estimate(
    settings: OffloadSettings, registry: Registry, record: ModelRecord, calibrated: bool = True
) -> Estimate | None:
    """The VRAM estimate, corrected by the stored measurement unless ``calibrated`` is False."""
    if record.meta is None:
        return None
    calibration = registry.calibration(record.id) if calibrated else None
    params = load_params(settings, record)
    return estimate(record.meta, params, settings.cuda_overhead_mib, calibration)


def model_json(record: ModelRecord, guess: Estimate | None, loaded: bool) -> dict[str, Any]:
    """One entry of ``GET /models``."""
    meta = record.meta
    return {
        "id": record.id,
        "path": str(record.path),
        "format": record.format,
        "usable": record.usable,
        "reason": record.reason,
        "architecture": meta.architecture if meta else None,
        "parameters": meta.parameters if meta else None,
        "quantization": meta.quantization if meta else None,
        "context_length": meta.context_length if meta else None,
        "estimate_mib": guess.total_mib if guess else None,
        "loaded": loaded,
    }


def model_entry(
    settings: OffloadSettings, registry: Registry, record: ModelRecord, loaded: bool
) -> dict[str, Any]:
    """``model_json`` plus how the model formats chats (``chat.reason`` when it cannot)."""
    entry = model_json(record, model_estimate(settings, registry, record), loaded)
    entry["chat"] = resolve(settings, record).to_json()
    return entry


def model_detail(
    settings: OffloadSettings, registry: Registry, record: ModelRecord, loaded: bool
) -> dict[str, Any]:
    """``GET /models/{id}`` and ``models show``: metadata, estimate and measurement side by side."""
    raw = model_estimate(settings, registry, record, calibrated=False)
    calibration = registry.calibration(record.id)
    detail = model_entry(settings, registry, record, loaded)
    detail["meta"] = record.meta.to_json() if record.meta else None
    detail["load_params"] = load_params(settings, record).to_json()
    detail["estimate"] = raw.buffers.to_json() if raw else None
    detail["overhead_mib"] = settings.cuda_overhead_mib
    detail["measured"] = calibration.measured.to_json() if calibration else None
    on_host = settings.gpu == "simulated"
    params = load_params(settings, record)
    host = record_host_need(
        settings, record, params, model_estimate(settings, registry, record), on_host
    )
    detail["host_memory_mib"] = host.to_json() if host else None
    detail["host_available_mib"] = mem_available_mib()
    detail["measured_params"] = calibration.params.to_json() if calibration else None
    if raw and calibration and calibration.params == load_params(settings, record):
        measured = calibration.measured.total
        detail["estimate_error_pct"] = round(100 * (raw.buffers.total - measured) / measured, 1)
    else:
        detail["estimate_error_pct"] = None
    return detail
