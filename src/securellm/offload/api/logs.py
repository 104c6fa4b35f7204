"""``GET /models/{model_id}/logs``: the tail of a model server's log, or ``?follow=true`` live.

Following ends when the model's server stops (unloaded, evicted, died), like ``tail -f`` of
a process that exits; a model that is not loaded answers its last lines and ends at once.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from securellm.offload.errors import BadRequest, ModelNotFound
from securellm.offload.logs import follow, server_log_path, tail
from securellm.offload.service import OffloadService

MAX_LINES = 10_000


def _lines(request: Request) -> int:
    raw = request.query_params.get("lines", "100")
    try:
        lines = int(raw)
    except ValueError:
        raise BadRequest(f"lines must be a whole number, not {raw[:40]!r}") from None
    if not 0 <= lines <= MAX_LINES:
        raise BadRequest(f"lines must be between 0 and {MAX_LINES}")
    return lines


def _follow(request: Request) -> bool:
    raw = request.query_params.get("follow", "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise BadRequest("follow must be true or false")
    return raw in ("true", "1")


async def model_logs(request: Request) -> Response:
    service: OffloadService = request.app.state.service
    model_id = request.path_params["model_id"]
    lines, live = _lines(request), _follow(request)
    if service.registry.find(model_id) is None:
        raise ModelNotFound(f"model {model_id!r} is not in the registry")
    path = server_log_path(service.settings.log_dir / "offload", model_id)
    if live:
        running = lambda: service.scheduler.is_loaded(model_id)  # noqa: E731
        stream = follow(path, lines, running)
        return StreamingResponse(stream, media_type="text/plain; charset=utf-8")
    return Response(tail(path, lines), media_type="text/plain; charset=utf-8")
