"""Find model files: plain GGUF folders, Ollama's manifests + blobs, the Hugging Face cache."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Format = Literal["gguf", "ollama", "hf"]
OLLAMA_MODEL_MEDIA = "application/vnd.ollama.image.model"
_QUANT_SUFFIX = re.compile(r"[-_.](?:i?q\d[a-z0-9_]*|f16|f32|bf16)$", re.IGNORECASE)
_SHARD = re.compile(r"-(\d{5})-of-(\d{5})$")
_UNSAFE = re.compile(r"[^a-z0-9._:-]+")


@dataclass(frozen=True)
class Candidate:
    """A model file found on disk; ``id_hint`` is the readable id it would like to have."""

    path: Path
    format: Format
    id_hint: str
    alt_id: str
    problem: str | None = None

    @property
    def key(self) -> tuple[Path, str]:
        """What makes it one model: the file, and for Ollama the tag (tags may share a blob)."""
        return self.path, self.id_hint if self.format == "ollama" else ""


def readable_id(stem: str) -> tuple[str, str]:
    """``gemma-3-270m-Q4_K_M`` -> (``gemma-3-270m``, ``gemma-3-270m-q4_k_m``)."""
    full = _UNSAFE.sub("-", _SHARD.sub("", stem).lower()).strip("-") or "model"
    short = _QUANT_SUFFIX.sub("", full) or full
    return short, full


def _gguf_files(folder: Path) -> Iterator[Path]:
    try:
        found = sorted(folder.rglob("*.gguf"))
    except OSError as exc:
        log.warning("cannot list %s: %s", folder, exc)
        return
    for path in found:
        shard = _SHARD.search(path.stem)
        if shard and int(shard.group(1)) != 1:
            continue  # later shards of a split model load through the first one
        if "mmproj" in path.name.lower():
            continue  # vision projectors are not models on their own
        yield path


def scan_gguf_dir(folder: Path) -> Iterator[Candidate]:
    for path in _gguf_files(folder):
        short, full = readable_id(path.stem)
        yield Candidate(path, "gguf", short, full)


def scan_huggingface(hub: Path) -> Iterator[Candidate]:
    """``hub/models--org--name/snapshots/<rev>/**.gguf``; safetensors-only repos are unusable."""
    if not hub.is_dir():
        return
    for repo in sorted(hub.glob("models--*")):
        repo_name = repo.name.removeprefix("models--").replace("--", "/")
        snapshots = sorted((repo / "snapshots").glob("*"))
        ggufs = [p for snap in snapshots for p in _gguf_files(snap)]
        for path in ggufs:
            short, full = readable_id(path.stem)
            yield Candidate(path, "hf", short, full)
        if not ggufs and snapshots:
            short, full = readable_id(repo_name.replace("/", "-"))
            yield Candidate(
                snapshots[-1],
                "hf",
                short,
                full,
                problem=f"{repo_name} has no GGUF file; serve it with vLLM or TGI (remotes)",
            )


def scan_ollama(root: Path) -> Iterator[Candidate]:
    """Ollama's ``manifests/<registry>/<namespace>/<name>/<tag>`` pointing at ``blobs/``."""
    manifests = root / "manifests"
    if not manifests.is_dir():
        return
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        parts = manifest.relative_to(manifests).parts
        if len(parts) < 3:
            continue
        namespace, name, tag = parts[-3], parts[-2], parts[-1]
        model = name if namespace == "library" else f"{namespace}-{name}"
        model_id = _UNSAFE.sub("-", f"{model}:{tag}".lower())
        blob, problem = _ollama_blob(root, manifest)
        yield Candidate(blob or manifest, "ollama", model_id, model_id, problem)


def _ollama_blob(root: Path, manifest: Path) -> tuple[Path | None, str | None]:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        layers = data["layers"]
        digest = next(x["digest"] for x in layers if x.get("mediaType") == OLLAMA_MODEL_MEDIA)
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None, "unreadable Ollama manifest (no model layer)"
    blob = root / "blobs" / str(digest).replace(":", "-")
    if not blob.is_file():
        return None, f"Ollama blob {digest} is missing"
    return blob, None


def discover(
    model_dirs: tuple[Path, ...],
    ollama_dir: Path | None,
    huggingface_dir: Path | None,
) -> list[Candidate]:
    """Every candidate under the configured folders: each file once, each Ollama tag once."""
    found: list[Candidate] = []
    for folder in model_dirs:
        if folder.is_dir():
            found.extend(scan_gguf_dir(folder))
    if ollama_dir is not None:
        found.extend(scan_ollama(ollama_dir))
    if huggingface_dir is not None:
        found.extend(scan_huggingface(huggingface_dir))
    seen: set[tuple[Path, str]] = set()
    unique = []
    for candidate in found:
        key = (candidate.path.resolve(), candidate.key[1])
        if key not in seen:
            seen.add(key)
            unique.append(candidate)
    return unique
