"""Read the buffer sizes llama.cpp logs while loading a model (model, KV, compute, output)."""

from __future__ import annotations

import re

from securellm.offload.estimate import Buffers

_LINE = re.compile(
    r"(?P<buf>[A-Za-z0-9_]+)\s+(?P<kind>model|KV|compute|output) buffer size\s*=\s*"
    r"(?P<mib>[0-9.]+) MiB"
)
# buffers in host memory; everything else (CUDA0, ROCm0, Metal, Vulkan0, SYCL0...) is a device
_HOST = ("CPU", "CPU_Mapped", "CUDA_Host", "ROCm_Host", "Vulkan_Host", "SYCL_Host")
# extra host buffers holding repacked copies of weights already counted in the mapping
_REPACK = ("CPU_REPACK", "AMX", "CPU_KLEIDIAI")


def _is_host(name: str) -> bool:
    return name in _HOST or name in _REPACK or name.endswith("_Host")


def parse_buffers(log_text: str) -> Buffers | None:
    """Buffers on the GPU when any were logged, else the CPU ones; ``None`` if none appear."""
    sizes: dict[tuple[str, str], float] = {}
    for match in _LINE.finditer(log_text):
        key = (match["kind"], match["buf"])
        if match["kind"] == "KV":
            sizes[key] = sizes.get(key, 0.0) + float(match["mib"])  # one line per cache (SWA)
        else:
            sizes[key] = float(match["mib"])  # later reserves replace earlier ones
    if not any(kind == "model" for kind, _ in sizes):
        return None
    on_device = any(not _is_host(buf) for _, buf in sizes)

    def total(kind: str) -> float:
        picked = 0.0
        for (k, buf), mib in sizes.items():
            if k != kind or buf in _REPACK:
                continue
            if on_device and _is_host(buf):
                continue
            picked += mib
        return picked

    return Buffers(
        weights=total("model"), kv=total("KV"), compute=total("compute"), output=total("output")
    )
