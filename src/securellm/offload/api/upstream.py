"""``/upstream/{model}/{path}``: the model server's own API, as llama-swap offers it.

``GET /upstream/gemma-3-270m/props`` loads the model if needed (like any request) and relays
``GET /props`` of its server: llama-server's ``/slots``, ``/props``, ``/metrics``, or any other
path, with the method, query string and body as sent. The answer streams back as the server
sends it, with its status and content type. The model counts as busy until the last byte, so
it is not evicted mid-answer; the per-model queue does not apply (a look at ``/slots`` must not
wait behind a long generation), so inference sent this way is not queued by offload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from securellm.offload.errors import BackendError, BadRequest
from securellm.offload.scheduler import Slot
from securellm.offload.service import OffloadService

SENT_HEADERS = ("content-type", "accept")
KEPT_HEADERS = ("content-type", "cache-control")


def check_path(path: str) -> None:
    if any(part in ("..", ".") for part in path.split("/")) or "\\" in path:
        raise BadRequest("the upstream path must not contain '.', '..' or '\\'")


def upstream_url(base_url: str, path: str, query: str) -> str:
    """The model server's URL for ``path`` (relative to its root, not its ``/v1``)."""
    root = base_url.removesuffix("/v1")
    return f"{root}/{path.lstrip('/')}" + (f"?{query}" if query else "")


class Hold:
    """The model's busy mark and the upstream answer, released once, however the answer ends."""

    def __init__(self, service: OffloadService, slot: Slot, upstream: aiohttp.ClientResponse):
        self._service = service
        self._slot = slot
        self.upstream = upstream
        self._done = False

    async def release(self) -> None:
        if not self._done:
            self._done = True
            self.upstream.release()
            self._service.scheduler.release(self._slot)

    async def relay(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.upstream.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError):
            return  # the server went away mid-answer: end the body here
        finally:
            await self.release()


async def passthrough(request: Request) -> Response:
    service: OffloadService = request.app.state.service
    model_id = request.path_params["model_id"]
    url_path = request.path_params["path"]
    check_path(url_path)
    body = await request.body()
    slot = await service.scheduler.acquire(model_id)
    try:
        url = upstream_url(slot.server.base_url, url_path, request.url.query)
        upstream = await _send(service, request, url, body, model_id)
    except BaseException:
        service.scheduler.release(slot)
        raise
    hold = Hold(service, slot, upstream)
    return StreamingResponse(
        hold.relay(),
        status_code=upstream.status,
        headers={k: v for k, v in upstream.headers.items() if k.lower() in KEPT_HEADERS},
        background=BackgroundTask(hold.release),  # if the body never starts
    )


async def _send(
    service: OffloadService, request: Request, url: str, body: bytes, model_id: str
) -> aiohttp.ClientResponse:
    headers = {k: v for k, v in request.headers.items() if k.lower() in SENT_HEADERS}
    try:
        return await service.session.request(
            request.method, url, data=body or None, headers=headers
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BackendError(f"model server for {model_id!r} failed: {type(exc).__name__}") from exc
