"""The offload config file every offload benchmark starts its server with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit


def write_offload_config(root: Path, port: int, model_dirs: list[Path], **offload: Any) -> Path:
    """``root/offload.toml``: state under ``root``, a simulated GPU, no Ollama or Hugging Face
    folders, the given model folders; ``offload`` adds or overrides ``[offload]`` settings."""
    document = {
        "data_dir": str(root / "data"),
        "state_dir": str(root / "state"),
        "log_dir": str(root / "log"),
        "offload": {
            "port": port,
            "registry_path": str(root / "registry.db"),
            "model_dirs": [str(d) for d in model_dirs],
            "ollama_dir": str(root / "none"),
            "huggingface_dir": str(root / "none"),
            "gpu": "simulated",
            **offload,
        },
    }
    path = root / "offload.toml"
    path.write_text(tomlkit.dumps(document))
    return path
