"""Host RAM a model needs besides VRAM, checked against ``MemAvailable`` before a load.

What llama.cpp and llama-cpp-python keep in host memory:

* logits: llama-cpp-python's server builds ``Llama(logits_all=True)`` by default, which
  allocates a float32 ``scores`` array of ``n_ctx x n_vocab`` (``n_batch x n_vocab`` with
  ``--logits_all False``): 32 GiB for Gemma 3 (262,144 tokens) at ctx 32768. llama.cpp's own
  ``llama-server`` has no such array;
* weights not offloaded: the token embedding (always on the host) and the layers beyond
  ``ngl``, memory-mapped from the file;
* the KV cache of the layers that are not offloaded;
* with no real GPU (the simulated reader, a CPU build), every device buffer as well.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from securellm.core.config import OffloadSettings
from securellm.offload.errors import InsufficientHostMemory
from securellm.offload.estimate import MIB, Estimate, LoadParams, kv_bytes, weight_bytes
from securellm.offload.gguf_meta import ModelMeta
from securellm.offload.registry import ModelRecord

PYTHON_SERVERS = ("securellm.localmodel", "llama_cpp.server")
PYTHON_SERVER_N_BATCH = 512  # llama-cpp-python's server default


@dataclass(frozen=True)
class HostNeed:
    """MiB of host RAM by cause; ``device`` is the device buffers when there is no real GPU."""

    logits: float
    weights: float
    kv: float
    device: float = 0.0

    @property
    def total_mib(self) -> int:
        return round(self.logits + self.weights + self.kv + self.device)

    def to_json(self) -> dict[str, Any]:
        return {**{k: round(v, 1) for k, v in asdict(self).items()}, "total": self.total_mib}


def logits_rows(argv: tuple[str, ...], params: LoadParams) -> int:
    """Rows of llama-cpp-python's scores array: ``n_ctx`` unless ``--logits_all`` is off."""
    if not any(server in part for part in argv for server in PYTHON_SERVERS):
        return 0
    for flag, value in itertools.pairwise(argv):
        if flag == "--logits_all" and value.lower() in ("false", "0", "no"):
            return PYTHON_SERVER_N_BATCH
    return params.ctx


def host_need(
    meta: ModelMeta,
    params: LoadParams,
    argv: tuple[str, ...],
    device: Estimate | None = None,
) -> HostNeed:
    """What loading ``meta`` with ``params`` through ``argv`` keeps in host RAM."""
    everything = replace(params, ngl=999)
    cpu_weights = meta.tensor_bytes - weight_bytes(meta, params)
    cpu_kv = kv_bytes(meta, everything) - kv_bytes(meta, params)
    logits = 4.0 * logits_rows(argv, params) * (meta.vocab_size or 0)
    return HostNeed(
        logits=logits / MIB,
        weights=max(cpu_weights, 0) / MIB,
        kv=max(cpu_kv, 0.0) / MIB,
        device=device.buffers.total if device else 0.0,
    )


def mem_available_mib(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """``MemAvailable`` in MiB, or None where the kernel does not say."""
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_host_memory(
    settings: OffloadSettings,
    model_id: str,
    need: HostNeed,
    available_mib: int | None,
) -> None:
    """Refuse up front, with the figures, a load that would not fit in host memory."""
    if available_mib is None or not settings.host_memory_check:
        return
    room = available_mib - settings.host_reserve_mib
    if need.total_mib <= room:
        return
    parts = [
        f"logits {need.logits:.0f} MiB",
        f"CPU weights {need.weights:.0f} MiB",
        f"CPU KV cache {need.kv:.0f} MiB",
    ]
    if need.device:
        parts.append(f"buffers of the CPU backend {need.device:.0f} MiB")
    raise InsufficientHostMemory(
        f"model {model_id!r} needs about {need.total_mib} MiB of host RAM ({', '.join(parts)}) "
        f"but only {available_mib} MiB are available ({settings.host_reserve_mib} MiB kept "
        "free); lower its ctx, or pass --logits_all False in extra_args for llama-cpp-python"
    )


def record_host_need(
    settings: OffloadSettings,
    record: ModelRecord,
    params: LoadParams,
    device: Estimate | None,
    on_host: bool,
) -> HostNeed | None:
    """The need of a registry record loaded by offload's own server command (None: Ollama)."""
    if record.meta is None or (record.format == "ollama" and settings.ollama_url):
        return None
    argv = (*settings.llamacpp_command, *settings.policy(record.id).extra_args)
    return host_need(record.meta, params, argv, device if on_host else None)


def refuse_without_host_room(
    settings: OffloadSettings,
    record: ModelRecord,
    params: LoadParams,
    device: Estimate | None,
    on_host: bool,
) -> None:
    """Raise :class:`InsufficientHostMemory` before a load that cannot fit in host RAM."""
    need = record_host_need(settings, record, params, device, on_host)
    if need is not None:
        check_host_memory(settings, record.id, need, mem_available_mib())
