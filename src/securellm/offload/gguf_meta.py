"""Read what the registry and the estimator need from a GGUF file (see ``gguf_header``)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from securellm.offload.gguf_header import (
    GGUFHeader,
    HeaderError,
    SkippedArray,
    TensorInfo,
    read_header,
)

_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")
META_SCHEMA = 2  # 2: chat_template; the registry reads a file again whose meta is older


class UnusableModel(Exception):
    """The file cannot be used; the message is the reason shown in ``models list``."""


@dataclass(frozen=True)
class ModelMeta:
    """Architecture facts of one GGUF model (``None`` where the file does not say)."""

    architecture: str | None = None
    name: str | None = None
    parameters: int | None = None
    quantization: str | None = None
    context_length: int | None = None
    block_count: int | None = None
    embedding_length: int | None = None
    feed_forward_length: int | None = None
    head_count: int | None = None
    kv_heads: tuple[int, ...] = ()
    key_length: int | None = None
    value_length: int | None = None
    sliding_window: int | None = None
    swa_pattern: tuple[bool, ...] = ()
    vocab_size: int | None = None
    tensor_bytes: int = 0
    embedding_bytes: int = 0
    tied_embeddings: bool = False
    layer_bytes: tuple[int, ...] = field(default=())
    chat_template: str | None = None  # tokenizer.chat_template, the model's own chat format
    schema: int = META_SCHEMA

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelMeta:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known.setdefault("schema", 1)
        for key in ("kv_heads", "swa_pattern", "layer_bytes"):
            known[key] = tuple(known.get(key) or ())
        return cls(**known)


def read_gguf(path: Path) -> ModelMeta:
    """Parse ``path``; raise :class:`UnusableModel` with a reason for bad or truncated files."""
    header = _header(path, path.name, "cannot read file")
    tensors = list(header.tensors)
    for shard in _other_shards(path):
        tensors.extend(
            _header(shard, shard.name, f"missing or unreadable shard {shard.name}").tensors
        )
    if not tensors:
        raise UnusableModel("the file holds no tensors")
    return _meta(header.fields, tensors)


def chat_template(path: Path) -> str | None:
    """The file's own ``tokenizer.chat_template`` (a Jinja string), or None when it has none."""
    try:
        value = read_header(path).fields.get("tokenizer.chat_template")
    except (OSError, HeaderError):
        return None
    return value if isinstance(value, str) and value.strip() else None


def _header(path: Path, name: str, unreadable: str) -> GGUFHeader:
    try:
        header = read_header(path)
    except OSError as exc:
        raise UnusableModel(f"{unreadable}: {exc.strerror or exc}") from exc
    except HeaderError as exc:
        raise UnusableModel(f"not a valid GGUF file (corrupt or truncated): {exc}") from exc
    end = max((t.data_offset + t.n_bytes for t in header.tensors), default=0)
    if end > header.size:
        raise UnusableModel(
            f"truncated: tensor data of {name} ends at byte {end}, file has {header.size}"
        )
    return header


def _other_shards(path: Path) -> list[Path]:
    """``m-00002-of-00003.gguf`` and so on, for the first shard of a split model."""
    match = _SHARD.search(path.name)
    if not match or int(match.group(1)) != 1:
        return []
    count = int(match.group(2))
    stem = path.name[: match.start()]
    return [path.with_name(f"{stem}-{i:05d}-of-{count:05d}.gguf") for i in range(2, count + 1)]


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    return None


def _meta(fields: dict[str, Any], tensors: list[TensorInfo]) -> ModelMeta:
    arch = fields.get("general.architecture")
    arch = arch if isinstance(arch, str) else None

    def hp(name: str) -> Any:
        return fields.get(f"{arch}.{name}") if arch else None

    layers = _int(hp("block_count"))
    heads = hp("attention.head_count")
    head_count = _int(heads[0] if isinstance(heads, list) and heads else heads)
    embd = _int(hp("embedding_length"))
    names = {str(t.name) for t in tensors}
    title = fields.get("general.name")
    template = fields.get("tokenizer.chat_template")
    return ModelMeta(
        architecture=arch,
        name=title if isinstance(title, str) else None,
        parameters=sum(int(t.n_elements) for t in tensors),
        quantization=_quantization(fields, tensors),
        context_length=_int(hp("context_length")),
        block_count=layers,
        embedding_length=embd,
        feed_forward_length=_first_int(hp("feed_forward_length")),
        head_count=head_count,
        kv_heads=_per_layer(hp("attention.head_count_kv"), layers, head_count),
        key_length=_int(hp("attention.key_length")),
        value_length=_int(hp("attention.value_length")),
        sliding_window=_int(hp("attention.sliding_window")),
        swa_pattern=_swa_pattern(hp("attention.sliding_window_pattern"), layers),
        vocab_size=_vocab(fields, hp("vocab_size")),
        tensor_bytes=sum(int(t.n_bytes) for t in tensors),
        embedding_bytes=sum(int(t.n_bytes) for t in tensors if t.name == "token_embd.weight"),
        tied_embeddings="output.weight" not in names,
        layer_bytes=_layer_bytes(tensors, layers),
        chat_template=template if isinstance(template, str) and template.strip() else None,
    )


def _first_int(value: Any) -> int | None:
    if isinstance(value, list):
        return max((int(v) for v in value), default=None)
    return _int(value)


def _per_layer(value: Any, layers: int | None, default: int | None) -> tuple[int, ...]:
    count = layers or 0
    if isinstance(value, list):
        return tuple(int(v) for v in value[:count])
    single = _int(value) or default
    return tuple([single] * count) if single else ()


def _swa_pattern(value: Any, layers: int | None) -> tuple[bool, ...]:
    if isinstance(value, list):
        return tuple(bool(v) for v in value[: layers or 0])
    return ()


def _vocab(fields: dict[str, Any], declared: Any) -> int | None:
    if _int(declared):
        return _int(declared)
    tokens = fields.get("tokenizer.ggml.tokens")
    return len(tokens) if isinstance(tokens, list | SkippedArray) else None


def _layer_bytes(tensors: list[TensorInfo], layers: int | None) -> tuple[int, ...]:
    per = [0] * (layers or 0)
    for tensor in tensors:
        parts = str(tensor.name).split(".")
        if len(parts) > 2 and parts[0] == "blk" and parts[1].isdigit() and int(parts[1]) < len(per):
            per[int(parts[1])] += int(tensor.n_bytes)
    return tuple(per)


def _quantization(fields: dict[str, Any], tensors: list[TensorInfo]) -> str | None:
    from gguf import GGMLQuantizationType, LlamaFileType

    file_type = _int(fields.get("general.file_type"))
    if file_type is not None:
        try:
            return LlamaFileType(file_type).name.removeprefix("MOSTLY_")
        except ValueError:
            pass
    weights: dict[str, int] = {}
    for tensor in tensors:
        if len(tensor.shape) >= 2:
            try:
                kind = GGMLQuantizationType(tensor.tensor_type).name
            except ValueError:
                continue
            weights[kind] = weights.get(kind, 0) + int(tensor.n_bytes)
    return max(weights, key=lambda k: weights[k]) if weights else None
