"""VRAM estimate: weights + KV cache + compute buffers + CUDA context, calibrated by measurement.

The KV cache follows llama.cpp's allocation: every layer holds ``cells`` rows of
``kv_heads * (key_length * size(type_k) + value_length * size(type_v))`` bytes, where sliding-
window layers hold ``min(ctx, pad256(window * parallel + n_ubatch))`` cells unless the full SWA
cache is requested. The compute buffer is dominated by the F32 logits of one micro-batch
(``n_vocab * n_ubatch * 4``) or, without flash attention, the KQ matrix, whichever is larger.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from securellm.offload.gguf_meta import ModelMeta

MIB = 1024 * 1024
CACHE_TYPE_BYTES: dict[str, float] = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "q8_0": 34 / 32,
    "q4_0": 18 / 32,
    "q4_1": 20 / 32,
    "iq4_nl": 18 / 32,
    "q5_0": 22 / 32,
    "q5_1": 24 / 32,
}
# llama.cpp's per-architecture sliding-window layer pattern (every n-th layer is global).
SWA_PATTERNS: dict[str, int] = {"gemma2": 2, "gemma3": 6, "gemma3n": 5, "cohere2": 4, "exaone4": 4}


EMBEDDING_N_BATCH = 512  # llama-cpp-python's default n_batch
MAX_PARALLEL_SEQUENCES = 256  # llama.cpp's llama_max_parallel_sequences()


@dataclass(frozen=True)
class LoadParams:
    """How a model is loaded; the estimate depends on every field."""

    ctx: int = 4096
    parallel: int = 1
    n_ubatch: int = 512
    cache_type_k: str = "f16"
    cache_type_v: str = "f16"
    flash_attn: bool = False
    swa_full: bool = True
    ngl: int = 999
    embeddings: bool = False  # the server also answers /v1/embeddings (a larger output buffer)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Buffers:
    """Sizes in MiB of what llama.cpp allocates for a model.

    ``output`` (logits, and embeddings when on) lives in host memory (llama.cpp puts it in
    the GPU's pinned host buffer type), so it is not part of ``total``, the device figure.
    """

    weights: float
    kv: float
    compute: float
    output: float = 0.0

    @property
    def total(self) -> float:
        return self.weights + self.kv + self.compute

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 2) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Buffers:
        return cls(
            weights=float(data["weights"]),
            kv=float(data["kv"]),
            compute=float(data["compute"]),
            output=float(data.get("output", 0.0)),
        )


@dataclass(frozen=True)
class Calibration:
    """Buffers llama.cpp logged when the model was loaded with ``params``."""

    params: LoadParams
    measured: Buffers


@dataclass(frozen=True)
class Estimate:
    """The predicted buffers plus the per-process overhead, and whether a measurement shaped it."""

    buffers: Buffers
    overhead_mib: int
    calibrated: bool

    @property
    def total_mib(self) -> int:
        return round(self.buffers.total + self.overhead_mib)


def swa_layers(meta: ModelMeta) -> tuple[bool, ...]:
    """Which layers use the sliding window (all ``False`` for models without one)."""
    layers = meta.block_count or 0
    if not meta.sliding_window:
        return (False,) * layers
    if len(meta.swa_pattern) == layers and layers:
        return meta.swa_pattern
    period = SWA_PATTERNS.get(meta.architecture or "", 0)
    if period == 0:
        return (True,) * layers
    return tuple(il % period < period - 1 for il in range(layers))


def _pad(value: int, to: int = 256) -> int:
    return (value + to - 1) // to * to


def kv_bytes(meta: ModelMeta, params: LoadParams) -> float:
    """Bytes of K and V cache across the offloaded layers."""
    layers = meta.block_count or 0
    head_dim = (meta.embedding_length or 0) // max(meta.head_count or 1, 1)
    k_len = meta.key_length or head_dim
    v_len = meta.value_length or head_dim
    k_size = CACHE_TYPE_BYTES[params.cache_type_k]
    v_size = CACHE_TYPE_BYTES[params.cache_type_v]
    swa = swa_layers(meta)
    swa_cells = params.ctx
    if meta.sliding_window and not params.swa_full:
        swa_cells = min(params.ctx, _pad(meta.sliding_window * params.parallel + params.n_ubatch))
    total = 0.0
    for il in _offloaded(layers, params.ngl):
        heads = meta.kv_heads[il] if il < len(meta.kv_heads) else (meta.head_count or 0)
        cells = swa_cells if swa[il] else params.ctx
        total += cells * heads * (k_len * k_size + v_len * v_size)
    return total


def _offloaded(layers: int, ngl: int) -> range:
    """llama.cpp offloads the last ``ngl`` repeating layers."""
    return range(max(layers - ngl, 0), layers)


def weight_bytes(meta: ModelMeta, params: LoadParams) -> float:
    """Bytes of tensors placed on the GPU for ``params.ngl`` offloaded layers."""
    layers = meta.block_count or 0
    if not meta.layer_bytes or params.ngl > layers:
        # everything but the input embedding, which stays in host memory unless it doubles as
        # the output matrix (tied embeddings), in which case it is copied to the device
        return float(meta.tensor_bytes - (0 if meta.tied_embeddings else meta.embedding_bytes))
    return float(sum(meta.layer_bytes[il] for il in _offloaded(layers, params.ngl)))


def compute_bytes(meta: ModelMeta, params: LoadParams) -> float:
    """Worst-case scratch memory for one micro-batch."""
    ubatch = params.n_ubatch
    vocab = meta.vocab_size or 0
    logits = 4.0 * vocab * ubatch
    attention = 4.0 * params.ctx * ubatch  # the F32 KQ mask
    if not params.flash_attn:
        attention += 4.0 * (meta.head_count or 0) * params.ctx * ubatch / params.parallel
    ffn = 4.0 * 2 * (meta.feed_forward_length or 0) * ubatch
    activations = 16.0 * ubatch * (meta.embedding_length or 0)
    return max(logits, attention, ffn) + activations


def output_bytes(meta: ModelMeta, params: LoadParams) -> float:
    """The output buffer: F32 logits per sequence, and with embeddings on an embedding too.

    llama-cpp-python's server in embedding mode reserves ``min(n_batch, 256)`` sequences
    (its ``n_seq_max``), each with logits and an embedding: 256.6 MiB for Gemma 3 270M's
    262,144-token vocabulary, against 1 MiB without (measured from its log).
    """
    vocab = meta.vocab_size or 0
    if not params.embeddings:
        return 4.0 * vocab * params.parallel
    rows = min(params.ctx, EMBEDDING_N_BATCH, MAX_PARALLEL_SEQUENCES)
    return 4.0 * (vocab + (meta.embedding_length or 0)) * rows


def raw_buffers(meta: ModelMeta, params: LoadParams) -> Buffers:
    """The uncalibrated prediction."""
    output = output_bytes(meta, params)
    return Buffers(
        weights=weight_bytes(meta, params) / MIB,
        kv=kv_bytes(meta, params) / MIB,
        compute=compute_bytes(meta, params) / MIB,
        output=output / MIB,
    )


def estimate(
    meta: ModelMeta,
    params: LoadParams,
    overhead_mib: int,
    calibration: Calibration | None = None,
) -> Estimate:
    """Predict the model's VRAM; a stored measurement corrects each buffer by its ratio."""
    predicted = raw_buffers(meta, params)
    if calibration is None:
        return Estimate(predicted, overhead_mib, calibrated=False)
    at_measure = raw_buffers(meta, calibration.params)
    measured = calibration.measured

    def scaled(now: float, then: float, real: float) -> float:
        if then > 0:
            return now * (real / then)
        return real if now == then else now  # nothing predicted: trust the measurement

    corrected = replace(
        predicted,
        weights=scaled(predicted.weights, at_measure.weights, measured.weights),
        kv=scaled(predicted.kv, at_measure.kv, measured.kv),
        compute=scaled(predicted.compute, at_measure.compute, measured.compute),
        output=scaled(predicted.output, at_measure.output, measured.output),
    )
    return Estimate(corrected, overhead_mib, calibrated=True)
