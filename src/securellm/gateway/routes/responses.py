"""The OpenAI Responses API: ``POST /v1/responses``, on the shared pipeline.

Keys, limits, budgets, audit, cost, breakers, retries and fallbacks are the chat
route's (:mod:`securellm.gateway.pipeline`); what this route adds is its turn: with
``previous_response_id`` the stored turns of that response (``state.responses``, this
key's only) go before the new ``input``; unless ``store`` is false, a complete answer is
stored (a stream at its ``response.completed``, before the client sees that event).
Providers translate to their upstream (see :mod:`securellm.providers.translate`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from starlette.routing import Route

from securellm.gateway.context import RequestContext
from securellm.gateway.pipeline import endpoint
from securellm.gateway.routes.responses_check import check_responses
from securellm.gateway.state import GatewayState
from securellm.gateway.validation import JSON
from securellm.providers.base import UpstreamResponse
from securellm.providers.http import event_data
from securellm.providers.translate.common import loads_or_none
from securellm.providers.translate.responses_request import input_items

log = logging.getLogger(__name__)
FINAL = (b"event: response.completed", b"event: response.incomplete")


class ResponsesTurn:
    """One ``POST /v1/responses``: the earlier turns in, the answer stored."""

    def __init__(self) -> None:
        self.own_items: list[JSON] = []
        self.previous: str | None = None
        self.store = True

    async def prepare(self, ctx: RequestContext, state: GatewayState, body: JSON) -> JSON:
        """The body with ``input`` as items, the stored turns first."""
        assert ctx.key is not None
        self.store = body.get("store") is not False
        self.own_items = input_items(body.get("input"))
        self.previous = body.get("previous_response_id")
        earlier: list[JSON] = []
        if self.previous is not None:
            earlier = await state.responses.context(ctx.key.id, self.previous)
        return {**body, "input": [*earlier, *self.own_items]}

    async def finish(
        self, ctx: RequestContext, state: GatewayState, upstream: UpstreamResponse
    ) -> UpstreamResponse:
        if not self.store:
            return upstream
        if upstream.stream is not None:
            upstream.stream = self._saving(ctx, state, upstream.stream)
        elif upstream.status == 200:
            await self._save(ctx, state, loads_or_none(upstream.body or b""))
        return upstream

    async def _saving(
        self, ctx: RequestContext, state: GatewayState, stream: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        try:
            async for chunk in stream:
                if chunk.startswith(FINAL):
                    event = loads_or_none(event_data(chunk.rstrip(b"\n")) or b"")
                    response = event.get("response") if isinstance(event, dict) else None
                    await self._save(ctx, state, response)
                yield chunk
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    async def _save(self, ctx: RequestContext, state: GatewayState, response: object) -> None:
        """Store the answer; a store that fails is logged (the client has its answer)."""
        if ctx.key is None or not isinstance(response, dict) or "id" not in response:
            return
        try:
            await state.responses.save(ctx.key.id, response, self.own_items, self.previous)
        except Exception:
            log.exception("storing a response failed", extra={"request_id": ctx.request_id})


routes = [
    Route(
        "/v1/responses",
        endpoint("responses", check_responses, "responses", ResponsesTurn),
        methods=["POST"],
    ),
]
