"""``POST /v1/embeddings``: OpenAI's embeddings on a local model, loaded on demand like chat.

The model server (llama-cpp-python started with ``--embedding True``) answers one vector per
token for a model with no pooling layer (Gemma and most chat models); OpenAI's format has
one vector per input, so those are mean-pooled here. ``encoding_format: base64`` (what the
official SDK asks for by default) is float32 little-endian, base64-encoded, as OpenAI sends.
"""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response

from securellm.offload.api.errors import error_response
from securellm.offload.api.limits import check_embedding_input
from securellm.offload.api.proxy import Lease, post_upstream, read_payload, upstream_error
from securellm.offload.api.queueing import admit, client_gone
from securellm.offload.errors import BackendError
from securellm.offload.keep_alive import take_keep_alive
from securellm.offload.scheduler import Slot
from securellm.offload.service import OffloadService

PATH = "/embeddings"


async def embeddings(request: Request) -> Response:
    service: OffloadService = request.app.state.service
    payload = await read_payload(request)
    check_embedding_input(payload)
    keep_alive_s = take_keep_alive(payload)
    model_id, encoding = payload["model"], payload.get("encoding_format", "float")
    texts = [payload["input"]] if isinstance(payload["input"], str) else payload["input"]
    held = await admit(service, request, model_id)
    if held is None:
        return client_gone()
    slot, ticket = held
    lease = Lease(service.scheduler, slot, ticket, keep_alive_s)
    try:
        answers = [await _embed_one(service, slot, text, model_id) for text in texts]
    finally:
        lease.close()
    failed = next(((status, data) for status, data in answers if status >= 400), None)
    if failed is not None:
        return upstream_error(*failed)
    answer = openai_answer([data for _, data in answers], model_id, encoding == "base64")
    if answer is None:
        return error_response(502, "model server: no embeddings", "server_error", "upstream_error")
    return Response(orjson.dumps(answer), media_type="application/json")


async def _embed_one(
    service: OffloadService, slot: Slot, text: str, model_id: str
) -> tuple[int, bytes]:
    """One input per request: llama-cpp-python's per-token vectors of a batch are right for
    its first input only (measured: the same text second in a batch has cosine ~0 to itself)."""
    body = {"model": slot.server.upstream_model, "input": text}
    upstream = await post_upstream(service, slot.server.base_url + PATH, body, model_id)
    try:
        service.metrics.requests.labels(model_id, str(upstream.status)).inc()
        return upstream.status, await upstream.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BackendError(f"model server for {model_id!r} failed: {type(exc).__name__}") from exc
    finally:
        upstream.release()


def openai_answer(replies: list[bytes], model_id: str, as_base64: bool) -> dict[str, Any] | None:
    """The model server's answers (one per input) in OpenAI's shape, one pooled vector per
    input, or ``None`` when one is not an embeddings answer."""
    vectors, tokens = [], 0
    try:
        for data in replies:
            parsed = orjson.loads(data)
            vectors.append(_pooled(parsed["data"][0]["embedding"]))
            usage = parsed.get("usage") if isinstance(parsed.get("usage"), dict) else {}
            tokens += int(usage.get("prompt_tokens", 0))
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None
    return {
        "object": "list",
        "model": model_id,
        "data": [
            {"object": "embedding", "index": index, "embedding": _encoded(vector, as_base64)}
            for index, vector in enumerate(vectors)
        ],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _pooled(values: Any) -> np.ndarray[Any, np.dtype[np.float32]]:
    vector = np.asarray(values, dtype=np.float32)
    if vector.ndim == 2 and vector.shape[0] > 0:
        vector = vector.mean(axis=0)
    if vector.ndim != 1 or not vector.size or not np.all(np.isfinite(vector)):
        raise ValueError("not a vector")
    return vector


def _encoded(vector: np.ndarray[Any, np.dtype[np.float32]], as_base64: bool) -> Any:
    if as_base64:
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]
