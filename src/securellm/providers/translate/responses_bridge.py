"""Serve the OpenAI Responses API from any provider that speaks OpenAI chat.

``responses_via_chat`` translates the request, calls the provider's own ``chat`` (for an
Anthropic upstream that is itself a translation to Messages), and translates the reply,
or the stream of chunks, into the Responses API's shapes. An error chunk or an unreadable
one ends the stream with ``response.failed`` and sets ``failure``; a stream cut short (no
``[DONE]``) is left incomplete, with the translator's ``response.failed`` as its closer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

from securellm.core.errors import UpstreamError
from securellm.providers.base import Call, UpstreamResponse
from securellm.providers.translate.bridge import translate_chunks
from securellm.providers.translate.common import loads_or_none
from securellm.providers.translate.responses_reply import completion_to_response, new_item_id
from securellm.providers.translate.responses_request import responses_to_chat
from securellm.providers.translate.stream_to_responses import ChatToResponsesStream

ChatCall = Callable[[Call], Awaitable[UpstreamResponse]]
DROPPED_HEADER = "x-securellm-dropped-tools"


async def responses_via_chat(
    chat: ChatCall, call: Call, *, reasoning_effort: bool = False
) -> UpstreamResponse:
    request = responses_to_chat(call.body, call.model, reasoning_effort=reasoning_effort)
    inner = await chat(Call(call.model, request.body, call.stream, call.request_id))
    headers = dict(inner.headers)
    if request.dropped:
        headers[DROPPED_HEADER] = ", ".join(request.dropped)
    response_id = new_item_id("resp_")
    if inner.stream is None:
        completion = loads_or_none(inner.body or b"")
        if completion is None:
            raise UpstreamError("the upstream sent a reply that is not JSON")
        response = completion_to_response(
            completion,
            call.body,
            call.model,
            response_id,
            usage=inner.usage,
            custom_tools=request.custom_tools,
        )
        return UpstreamResponse(body=orjson.dumps(response), usage=inner.usage, headers=headers)
    translator = ChatToResponsesStream(call.body, call.model, response_id, request.custom_tools)
    result = UpstreamResponse(
        media_type="text/event-stream", headers=headers, closer=translator.closer
    )
    result.stream = translate_chunks(inner, result, translator)
    return result
