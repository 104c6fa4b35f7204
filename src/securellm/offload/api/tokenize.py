"""``POST /tokenize``: a model's own tokenizer, relayed to the server that holds the model.

The body is llama.cpp's (``{"model": ID, "content": TEXT}``); the answer is
``{"model": ID, "count": N}``. The model is loaded if it is not (as for a chat request:
``count_tokens`` usually comes just before one). llama.cpp's ``llama-server`` answers
``/tokenize`` at its root, llama-cpp-python's server ``/extras/tokenize``; the first that
answers is used.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from starlette.requests import Request
from starlette.responses import Response

from securellm.offload.api.proxy import read_payload
from securellm.offload.errors import BackendError, BadRequest
from securellm.offload.service import OffloadService

TIMEOUT_S = 30.0


def _root(base_url: str) -> str:
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def _count(reply: Any) -> int | None:
    if not isinstance(reply, dict):
        return None
    if isinstance(reply.get("count"), int):
        return int(reply["count"])
    tokens = reply.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None


async def _ask(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> int | None:
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    headers = {"content-type": "application/json"}
    async with session.post(
        url, data=orjson.dumps(body), headers=headers, timeout=timeout
    ) as response:
        if response.status != 200:
            return None
        try:
            return _count(orjson.loads(await response.read()))
        except orjson.JSONDecodeError:
            return None


async def tokenize(service: OffloadService, request: Request) -> Response:
    payload = await read_payload(request)
    text = payload.get("content")
    if not isinstance(text, str):
        raise BadRequest("'content' is required and must be a string")
    model_id = payload["model"]
    slot = await service.scheduler.acquire(model_id)
    try:
        root = _root(slot.server.base_url)
        upstream = slot.server.upstream_model
        attempts = (
            (f"{root}/tokenize", {"content": text}),
            (f"{root}/extras/tokenize", {"model": upstream, "input": text}),
        )
        for url, body in attempts:
            count = await _ask(service.session, url, body)
            if count is not None:
                data = {"model": model_id, "count": count}
                return Response(orjson.dumps(data), media_type="application/json")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BackendError(f"model server for {model_id!r} failed: {type(exc).__name__}") from exc
    finally:
        service.scheduler.release(slot)
    raise BackendError(f"the model server for {model_id!r} has no tokenizer endpoint")
