"""``[offload]``: the local model manager on a GPU host."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from securellm.core.config.sections import Section


class OffloadSettings(Section):
    """Where offload listens, where models live, and which GPU reader to use."""

    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=1, le=65535)
    model_dirs: tuple[Path, ...] = (Path("/var/lib/ml-models/llamacpp/models"),)
    registry_path: Path | None = None
    gpu: Literal["auto", "nvml", "nvidia-smi", "simulated"] = "auto"
    simulated_vram_mib: int = Field(default=6144, ge=1)
