"""A GGUF header reader that skips large arrays instead of turning them into Python objects.

``gguf.GGUFReader`` builds a numpy view per entry of every array (Gemma's tokenizer holds
262,144 tokens, scores and types), which takes seconds. The registry and the estimator need
only scalars, short per-layer arrays, a few strings and the tensor table, so this reader
decodes those and, for long arrays, keeps only their length. Type numbers and block sizes
come from the ``gguf`` package; only the walk over the bytes is ours.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf import GGML_QUANT_SIZES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUFValueType

MAX_DECODED_ARRAY = 4096  # per-layer arrays are far shorter; tokenizer arrays far longer

_SCALARS = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}


class HeaderError(ValueError):
    """The bytes are not a GGUF header this reader understands (corrupt or truncated)."""


@dataclass(frozen=True)
class SkippedArray:
    """A long array whose entries were skipped; ``len`` works on it like on a list."""

    item_type: int
    count: int

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True)
class TensorInfo:
    """One row of the tensor table; ``data_offset`` is absolute in the file."""

    name: str
    shape: tuple[int, ...]
    tensor_type: int
    data_offset: int
    n_elements: int
    n_bytes: int


@dataclass(frozen=True)
class GGUFHeader:
    fields: dict[str, Any]
    tensors: list[TensorInfo]
    size: int


class _Cursor:
    """Reads little- or big-endian values from a buffer, with bounds checked."""

    def __init__(self, buf: Any, order: str) -> None:
        self.buf = buf
        self.end = len(buf)
        self.pos = 0
        self.order = order
        self._u64 = struct.Struct(order + "Q")
        self._formats = {t: struct.Struct(order + c) for t, c in _SCALARS.items()}

    def scalar(self, kind: int) -> Any:
        fmt = self._formats.get(GGUFValueType(kind))
        if fmt is None:
            raise HeaderError(f"unknown value type {kind}")
        value = fmt.unpack_from(self.buf, self.pos)[0]
        self.pos += fmt.size
        return value

    def u32(self) -> int:
        return int(self.scalar(GGUFValueType.UINT32))

    def u64(self) -> int:
        value = self._u64.unpack_from(self.buf, self.pos)[0]
        self.pos += 8
        return int(value)

    def string(self) -> str:
        length = self.u64()
        self._need(length)
        raw = bytes(self.buf[self.pos : self.pos + length])
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        self._need(8 * count)
        unpack, pos, end = self._u64.unpack_from, self.pos, self.end
        for _ in range(count):
            pos += 8 + unpack(self.buf, pos)[0]
            if pos > end:
                raise HeaderError("string array runs past the end of the file")
        self.pos = pos

    def _need(self, length: int) -> None:
        if length < 0 or self.pos + length > self.end:
            raise HeaderError("value runs past the end of the file")

    def value(self, kind: int) -> Any:
        if kind == GGUFValueType.STRING:
            return self.string()
        if kind == GGUFValueType.ARRAY:
            return self.array()
        return self.scalar(kind)

    def array(self) -> Any:
        item_type, count = self.u32(), self.u64()
        if item_type == GGUFValueType.ARRAY:
            raise HeaderError("nested arrays are not used by any model field")
        if count <= MAX_DECODED_ARRAY:
            return [self.value(item_type) for _ in range(count)]
        if item_type == GGUFValueType.STRING:
            self.skip_strings(count)
        else:
            fmt = self._formats.get(GGUFValueType(item_type))
            if fmt is None:
                raise HeaderError(f"unknown array item type {item_type}")
            self._need(fmt.size * count)
            self.pos += fmt.size * count
        return SkippedArray(item_type, count)


def _byte_order(buf: Any) -> str:
    if len(buf) < 24 or struct.unpack_from("<I", buf, 0)[0] != GGUF_MAGIC:
        raise HeaderError("no GGUF magic number")
    version = struct.unpack_from("<I", buf, 4)[0]
    if version in (2, 3):
        return "<"
    if struct.unpack_from(">I", buf, 4)[0] in (2, 3):
        return ">"
    raise HeaderError(f"unsupported GGUF version {version}")


def _tensor(cur: _Cursor) -> tuple[str, tuple[int, ...], int, int]:
    name = cur.string()
    dims = cur.u32()
    if dims > 8:
        raise HeaderError(f"tensor {name!r} has {dims} dimensions")
    shape = tuple(cur.u64() for _ in range(dims))
    return name, shape, cur.u32(), cur.u64()


def _sized(name: str, shape: tuple[int, ...], kind: int, offset: int) -> TensorInfo:
    elements = 1
    for dim in shape:
        elements *= dim
    try:
        block, type_size = GGML_QUANT_SIZES[kind]  # type: ignore[index]
    except KeyError as exc:
        raise HeaderError(f"tensor {name!r} has unknown type {kind}") from exc
    return TensorInfo(name, shape, kind, offset, elements, elements * type_size // block)


def parse_header(buf: Any) -> GGUFHeader:
    """Parse the key/value section and the tensor table of a GGUF held in ``buf``."""
    cur = _Cursor(buf, _byte_order(buf))
    cur.pos = 8
    tensor_count, kv_count = cur.u64(), cur.u64()
    fields: dict[str, Any] = {}
    try:
        for _ in range(kv_count):
            key = cur.string()
            fields[key] = cur.value(cur.u32())
        raw = [_tensor(cur) for _ in range(tensor_count)]
    except (struct.error, ValueError) as exc:  # ValueError: an unknown GGUFValueType number
        raise HeaderError(str(exc)) from exc
    align = fields.get("general.alignment", GGUF_DEFAULT_ALIGNMENT)
    align = align if isinstance(align, int) and align > 0 else GGUF_DEFAULT_ALIGNMENT
    start = -(-cur.pos // align) * align
    tensors = [_sized(name, shape, kind, start + off) for name, shape, kind, off in raw]
    return GGUFHeader(fields, tensors, cur.end)


def read_header(path: Path) -> GGUFHeader:
    """Map ``path`` read-only and parse its header; raises ``OSError`` or :class:`HeaderError`."""
    with path.open("rb") as handle:
        if path.stat().st_size == 0:
            raise HeaderError("the file is empty")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return parse_header(buf)
