"""Forward OpenAI requests to the model's server, holding a lease until the answer is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from securellm.offload.admission import Ticket
from securellm.offload.api.errors import error_response
from securellm.offload.api.limits import check_inference
from securellm.offload.api.queueing import admit, check_chat, client_gone
from securellm.offload.errors import BackendError, BadRequest
from securellm.offload.keep_alive import take_keep_alive
from securellm.offload.scheduler import Scheduler, Slot
from securellm.offload.service import OffloadService


async def read_payload(request: Request) -> dict[str, Any]:
    """The JSON object body with a ``model`` (the size cap is :class:`BodyLimit`'s)."""
    body = await request.body()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required and must be a string")
    return payload


def _rename(data: bytes, model_id: str) -> bytes:
    """Put our model id back in a JSON body (llama.cpp servers echo the file path)."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data
    if isinstance(parsed, dict) and "model" in parsed:
        parsed["model"] = model_id
        return orjson.dumps(parsed)
    return data


class SseRenamer:
    """Rewrites ``"model"`` in each ``data: {...}`` line of an SSE stream, keeping line ends."""

    def __init__(self, model_id: str) -> None:
        self._model_id = model_id
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        out = [self._line(line) for line in lines]
        return b"\n".join(out) + b"\n" if out else b""

    def flush(self) -> bytes:
        rest, self._pending = self._pending, b""
        return self._line(rest) if rest else b""

    def _line(self, line: bytes) -> bytes:
        if not line.startswith(b"data: {"):
            return line
        body, cr = (line[6:-1], b"\r") if line.endswith(b"\r") else (line[6:], b"")
        return b"data: " + _rename(body, self._model_id) + cr


async def _sse(response: aiohttp.ClientResponse, model_id: str) -> AsyncIterator[bytes]:
    renamer = SseRenamer(model_id)
    async for chunk in response.content.iter_any():
        piece = renamer.feed(chunk)
        if piece:
            yield piece
    tail = renamer.flush()
    if tail:
        yield tail


class Lease:
    """One request's hold on a model and its upstream response; ``close`` runs once."""

    def __init__(
        self, scheduler: Scheduler, slot: Slot, ticket: Ticket, keep_alive_s: float | None
    ) -> None:
        self._scheduler = scheduler
        self._slot = slot
        self._ticket = ticket
        self._keep_alive_s = keep_alive_s
        self.upstream: aiohttp.ClientResponse | None = None
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.upstream is not None:
            self.upstream.release()
        self._ticket.release()  # the next queued request may start on this model
        self._scheduler.release(self._slot, self._keep_alive_s)

    async def aclose(self) -> None:
        self.close()


async def forward(service: OffloadService, request: Request, path: str) -> Response:
    """Route ``request`` to its model, loading it on demand; it waits its turn on the model."""
    payload = await read_payload(request)
    check_inference(payload, path)
    keep_alive_s = take_keep_alive(payload)
    model_id = payload["model"]
    if path == "/chat/completions":
        check_chat(service, model_id)
    held = await admit(service, request, model_id)
    if held is None:
        return client_gone()
    slot, ticket = held
    lease = Lease(service.scheduler, slot, ticket, keep_alive_s)
    payload["model"] = slot.server.upstream_model
    streaming = False
    try:
        lease.upstream = await post_upstream(
            service, slot.server.base_url + path, payload, model_id
        )
        status = lease.upstream.status
        service.metrics.requests.labels(model_id, str(status)).inc()
        streaming = bool(payload.get("stream")) and status == 200
        if not streaming:
            return await _whole(lease.upstream, model_id)
        return StreamingResponse(
            _stream(lease, model_id),
            status_code=200,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
            background=BackgroundTask(lease.aclose),  # if the stream never starts
        )
    finally:
        if not streaming:
            lease.close()


async def post_upstream(
    service: OffloadService, url: str, payload: dict[str, Any], model_id: str
) -> aiohttp.ClientResponse:
    try:
        return await service.session.post(
            url, data=orjson.dumps(payload), headers={"Content-Type": "application/json"}
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        service.metrics.requests.labels(model_id, "502").inc()
        raise BackendError(f"model server for {model_id!r} failed: {type(exc).__name__}") from exc


async def _whole(upstream: aiohttp.ClientResponse, model_id: str) -> Response:
    try:
        data = await upstream.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BackendError(f"model server for {model_id!r} failed: {type(exc).__name__}") from exc
    if upstream.status >= 400:
        return upstream_error(upstream.status, data)
    return Response(
        _rename(data, model_id), status_code=upstream.status, media_type="application/json"
    )


def upstream_error(status: int, data: bytes) -> Response:
    """A model server's error: its 4xx as it is, its 5xx as 502 (the fault is behind us)."""
    status = 502 if status >= 500 else status
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return Response(data, status_code=status, media_type="application/json")
    text = data.decode("utf-8", "replace")[:500] or f"HTTP {status}"
    kind = "invalid_request_error" if status < 500 else "server_error"
    return error_response(status, f"model server: {text}", kind, "upstream_error")


async def _stream(lease: Lease, model_id: str) -> AsyncIterator[bytes]:
    assert lease.upstream is not None
    try:
        async for piece in _sse(lease.upstream, model_id):
            yield piece
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = {
            "error": {
                "message": f"model server failed: {type(exc).__name__}",
                "type": "server_error",
                "param": None,
                "code": "backend_error",
            }
        }
        yield b"data: " + orjson.dumps(error) + b"\n\n"
    finally:
        lease.close()
