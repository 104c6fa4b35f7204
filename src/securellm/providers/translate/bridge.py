"""Serve the Anthropic Messages API from any provider that speaks OpenAI chat.

``messages_via_chat`` translates the request, calls the provider's own ``chat`` (so the
upstream is asked for stream usage the usual way), and translates the reply or the
stream of chunks back into Anthropic's shapes. An error chunk or an unreadable one ends
the stream with Anthropic's ``error`` event and sets ``failure``; a stream cut short
(no ``[DONE]``) is left incomplete for the edge to close.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import orjson

from securellm.core.errors import UpstreamError
from securellm.providers.base import JSON, Call, UpstreamResponse, Usage
from securellm.providers.http import event_data
from securellm.providers.translate.from_anthropic import completion_to_message, messages_to_chat
from securellm.providers.translate.server_tools import dropped_headers, without_server_tools
from securellm.providers.translate.stream_to_anthropic import OpenAIToAnthropicStream

ChatCall = Callable[[Call], Awaitable[UpstreamResponse]]


def chat_for_count(call: Call, provider: str) -> tuple[JSON, dict[str, str]]:
    """A ``count_tokens`` body as the chat body it would become, and the dropped-tools header."""
    body, dropped = without_server_tools(call.body, call.server_tools, provider)
    return messages_to_chat(body, call.model), dropped_headers(dropped)


async def messages_via_chat(chat: ChatCall, call: Call, provider: str) -> UpstreamResponse:
    """Server tools are dropped (named in a response header) or refused, as configured."""
    anthropic_body, dropped = without_server_tools(call.body, call.server_tools, provider)
    body = messages_to_chat(anthropic_body, call.model)
    if call.stream:
        body["stream_options"] = {"include_usage": True}
    inner = await chat(Call(call.model, body, call.stream, call.request_id))
    headers = {**inner.headers, **dropped_headers(dropped)}
    if inner.stream is None:
        try:
            completion = orjson.loads(inner.body or b"")
        except orjson.JSONDecodeError:
            raise UpstreamError("the upstream sent a reply that is not JSON") from None
        message = completion_to_message(completion, call.model)
        return UpstreamResponse(body=orjson.dumps(message), usage=inner.usage, headers=headers)
    result = UpstreamResponse(media_type="text/event-stream", headers=headers)
    result.stream = translate_chunks(inner, result, OpenAIToAnthropicStream(call.model))
    return result


class ChunkTranslator(Protocol):
    """A translator of OpenAI chat chunks into another dialect's stream events."""

    usage: Usage
    complete: bool
    failure: str | None

    @property
    def failed(self) -> bool: ...

    def start(self) -> list[bytes]: ...

    def feed(self, chunk: Any) -> list[bytes]: ...

    def finish(self) -> list[bytes]: ...


async def translate_chunks(
    inner: UpstreamResponse, result: UpstreamResponse, translator: ChunkTranslator
) -> AsyncIterator[bytes]:
    """Inner OpenAI chunks out as the translator's events; an error or unreadable chunk ends
    it (the translator's failure event), a stream without ``[DONE]`` is left incomplete."""
    assert inner.stream is not None
    done = False
    try:
        for event in translator.start():
            yield event
        async for raw in inner.stream:
            data = event_data(raw.rstrip(b"\n"))
            if data == b"[DONE]":
                done = True
            elif data is not None:
                for event in translator.feed(_parse(data)):
                    yield event
            if translator.failed:
                break
        if done and not translator.failed:
            # The reply closes only now: an upstream that sent no usage has had it
            # estimated by the time its stream is exhausted.
            if not translator.usage.total_tokens:
                translator.usage = inner.usage
            for event in translator.finish():
                yield event
        # Cut short without [DONE]: neither complete nor failed, so the edge closes it.
    finally:
        await inner.stream.aclose()  # type: ignore[attr-defined]
        result.usage = inner.usage if inner.usage.total_tokens else translator.usage
        result.complete = translator.complete and inner.complete
        result.failure = translator.failure


def _parse(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return {"error": {"message": "the upstream sent an invalid stream event"}}
