"""A request's way onto its model: the chat check, the load, then its turn in the queue.

The scheduler's hold (``acquire``) is taken before the queue, so a model with requests
waiting counts as busy and is never evicted under them; a full queue is refused before the
model is loaded. A client that hangs up while it waits leaves the queue at once.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from securellm.offload.admission import Gate, Ticket
from securellm.offload.api.errors import error_response
from securellm.offload.chat_format import resolve
from securellm.offload.errors import NoChatTemplate, QueueFull
from securellm.offload.scheduler import Slot
from securellm.offload.service import OffloadService


def check_chat(service: OffloadService, model_id: str) -> None:
    """Refuse a chat for a model that has no chat format (instead of an empty answer)."""
    record = service.registry.get(model_id)
    if record is None or not record.usable:
        return  # the scheduler answers 404 / 422 with the registry's reason
    chat = resolve(service.settings.offload, record)
    if not chat.usable:
        raise NoChatTemplate(f"model {model_id!r} cannot chat: {chat.reason}")


def client_gone() -> Response:
    """What a request whose client left while queued gets (nobody reads it)."""
    return error_response(499, "client closed the request", "invalid_request_error", "gone")


async def _disconnected(request: Request) -> None:
    """Return once the client has hung up (the body is already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def wait_turn(gate: Gate, request: Request) -> Ticket | None:
    """The request's ticket on ``gate``; ``None`` if the client hung up while waiting."""
    if gate.running < gate.slots and not gate.waiting:
        return await gate.enter()  # a free slot: no wait, nothing to watch
    turn = asyncio.ensure_future(gate.enter())
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({turn, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not turn.done():
            turn.cancel()  # leaves the queue (or hands on a slot given just now)
        await asyncio.gather(turn, gone, return_exceptions=True)
    if turn.cancelled():
        return None
    return turn.result()  # raises QueueFull when the queue was full


async def admit(
    service: OffloadService, request: Request, model_id: str
) -> tuple[Slot, Ticket] | None:
    """Load (or join) ``model_id`` and wait for a slot on it; ``None``: the client left."""
    known = service.admission.existing(model_id)
    if known is not None and known.full():
        raise _refused(service, known)
    slot = await service.scheduler.acquire(model_id)
    gate = service.admission.gate(model_id)  # only for models that exist (acquire checked)
    try:
        ticket = await wait_turn(gate, request)
    except QueueFull:
        service.scheduler.release(slot)
        raise _refused(service, gate) from None
    except BaseException:
        service.scheduler.release(slot)
        raise
    if ticket is None:
        service.scheduler.release(slot)
        return None
    return slot, ticket


def _refused(service: OffloadService, gate: Gate) -> QueueFull:
    service.metrics.requests.labels(gate.model_id, "503").inc()
    return gate.refuse()
