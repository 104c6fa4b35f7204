"""Anthropic's Messages API as a provider (kind ``anthropic``).

Anthropic clients (``/v1/messages``, ``count_tokens``) are relayed as bytes with usage
read on the side; OpenAI chat clients are translated both ways, streams included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from securellm.core.config import ProviderSettings
from securellm.core.errors import UpstreamError
from securellm.providers.base import Call, UpstreamResponse, Usage
from securellm.providers.http import HttpProvider, event_data, passthrough_headers, sse_events
from securellm.providers.tokens import KIND_HEADER, METHOD_HEADER
from securellm.providers.translate.common import (
    Unreadable,
    anthropic_error_sse,
    anthropic_sse,
    count,
    error_message,
    loads_or_none,
    obj,
    usage_from_anthropic,
)
from securellm.providers.translate.responses_bridge import responses_via_chat
from securellm.providers.translate.stream_to_openai import AnthropicToOpenAIStream
from securellm.providers.translate.to_anthropic import chat_to_messages, message_to_completion

API_VERSION = "2023-06-01"
JSON_HEADERS = {"content-type": "application/json"}
DELTA_EVENT = b"event: content_block_delta"
EXACT_COUNT = {KIND_HEADER: "exact", METHOD_HEADER: "anthropic count_tokens"}


class AnthropicProvider(HttpProvider):
    """Talks to ``{base_url}/v1/messages`` with ``x-api-key`` and ``anthropic-version``."""

    models_path = "/v1/models?limit=1000"

    def __init__(self, settings: ProviderSettings) -> None:
        auth = {"anthropic-version": API_VERSION}
        if settings.api_key is not None:
            auth["x-api-key"] = settings.api_key.get_secret_value()
        super().__init__(settings, auth)

    async def messages(self, call: Call) -> UpstreamResponse:
        response = await self._post("/v1/messages", {**call.body, "model": call.model}, call)
        headers = passthrough_headers(response)
        if not call.stream:
            raw = await self.client.read_body(response)
            usage = usage_from_anthropic(self._reply(raw).get("usage"))
            return UpstreamResponse(body=raw, usage=usage, headers=headers)
        result = UpstreamResponse(media_type="text/event-stream", headers=headers)
        result.stream = self._relay(response, result)
        return result

    async def count_tokens(self, call: Call) -> UpstreamResponse:
        body = {**call.body, "model": call.model}
        response = await self._post("/v1/messages/count_tokens", body, call)
        headers = passthrough_headers(response)
        raw = await self.client.read_body(response)
        self._reply(raw)
        return UpstreamResponse(body=raw, headers={**headers, **EXACT_COUNT})

    async def responses(self, call: Call) -> UpstreamResponse:
        """Responses API clients: translated to chat, which this provider translates to
        Messages (streams included)."""
        return await responses_via_chat(self.chat, call)

    async def chat(self, call: Call) -> UpstreamResponse:
        body = chat_to_messages(call.body, call.model)
        response = await self._post("/v1/messages", body, call)
        headers = passthrough_headers(response)
        if not call.stream:
            message = self._reply(await self.client.read_body(response))
            completion = message_to_completion(message, call.model)
            usage = usage_from_anthropic(message.get("usage"))
            return UpstreamResponse(body=orjson.dumps(completion), usage=usage, headers=headers)
        options = call.body.get("stream_options")
        include = isinstance(options, dict) and bool(options.get("include_usage"))
        translator = AnthropicToOpenAIStream(call.model, include_usage=include)
        result = UpstreamResponse(media_type="text/event-stream", headers=headers)
        result.stream = self._translate(response, result, translator)
        return result

    async def _post(self, path: str, body: dict[str, Any], call: Call) -> aiohttp.ClientResponse:
        """POST with the client's ``anthropic-beta`` features, if it sent any."""
        headers = {**JSON_HEADERS, **call.headers}
        return await self.client.request("POST", path, body=orjson.dumps(body), headers=headers)

    def _reply(self, raw: bytes) -> dict[str, Any]:
        """A whole reply as an object; an error object in it (even with 200) is raised."""
        data = loads_or_none(raw)
        if not isinstance(data, dict):
            raise UpstreamError(f"provider {self.name!r} sent a reply that is not a JSON object")
        error = self.client.error_in_body(data)
        if error is not None:
            raise error
        return data

    async def _relay(
        self, response: aiohttp.ClientResponse, result: UpstreamResponse
    ) -> AsyncIterator[bytes]:
        """Anthropic to Anthropic: bytes unchanged; usage and completion read on the side.

        An ``error`` event is relayed redacted and ends the stream, as does an unreadable
        ``message_*`` event (Anthropic's ``error`` event then), setting ``failure``.
        """
        deltas = 0
        try:
            async for event in sse_events(response):
                deltas += event.startswith(DELTA_EVENT)
                data = event_data(event)
                if data is not None and (_interesting(data) or b'"error"' in data):
                    ending = self._observe(loads_or_none(data), result)
                    if ending is not None:
                        yield ending
                        return
                yield event + b"\n\n"
        except (TimeoutError, aiohttp.ClientError) as exc:
            result.failure = _break_message(self.name, exc)
            yield anthropic_error_sse(result.failure)
        finally:
            response.release()
            at_least(result.usage, deltas)

    def _observe(self, data: Any, result: UpstreamResponse) -> bytes | None:
        """Read usage and completion; the closing error event when the stream must end."""
        if not isinstance(data, dict):
            result.failure = f"provider {self.name!r} sent a stream event that cannot be read"
            return anthropic_error_sse(result.failure)
        if data.get("type") == "error":
            scrubbed = self.client.scrub(data)
            message = error_message(scrubbed.get("error"))
            result.failure = f"provider {self.name!r} sent an error mid-stream: {message}"
            return anthropic_sse("error", scrubbed)
        try:
            _read_usage(data, result)
        except Unreadable as exc:
            result.failure = f"provider {self.name!r}: {exc.message}"
            return anthropic_error_sse(result.failure)
        return None

    async def _translate(
        self,
        response: aiohttp.ClientResponse,
        result: UpstreamResponse,
        translator: AnthropicToOpenAIStream,
    ) -> AsyncIterator[bytes]:
        deltas = 0
        try:
            async for event in sse_events(response):
                deltas += event.startswith(DELTA_EVENT)
                data = event_data(event)
                if data is None:
                    continue
                parsed = loads_or_none(data)
                if parsed is None:
                    parsed = {"type": "error", "error": {"message": "invalid upstream event"}}
                elif b'"error"' in data:
                    parsed = self.client.scrub(parsed)
                for chunk in translator.feed(parsed):
                    yield chunk
                if translator.failed:
                    break
        except (TimeoutError, aiohttp.ClientError) as exc:
            for chunk in translator.fail(_break_message(self.name, exc)):
                yield chunk
        finally:
            response.release()
            result.usage = translator.usage
            result.complete = translator.complete
            result.failure = translator.failure
            at_least(result.usage, deltas)


def at_least(usage: Usage, deltas: int) -> None:
    """Anthropic sends the output count only in its last ``message_delta``: a stream cut
    before it still used at least one token per content delta it relayed (so a budgeted
    client that leaves just before the count is not charged its prompt alone)."""
    usage.completion_tokens = max(usage.completion_tokens, deltas)


def _interesting(data: bytes) -> bool:
    return data.startswith((b'{"type":"message_', b'{"type": "message_'))


def _read_usage(data: dict[str, Any], result: UpstreamResponse) -> None:
    kind = data.get("type")
    if kind == "message_start":
        message = obj(data.get("message"), "message")
        result.usage = usage_from_anthropic(obj(message.get("usage"), "message.usage"))
    elif kind == "message_delta":
        usage = obj(data.get("usage"), "usage")
        if usage.get("input_tokens") is not None:
            result.usage = usage_from_anthropic({**usage, "output_tokens": 0})
        result.usage.completion_tokens = count(usage.get("output_tokens"))
    elif kind == "message_stop":
        result.complete = True


def _break_message(name: str, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"provider {name!r} timed out mid-stream"
    return f"provider {name!r} broke the stream: {type(exc).__name__}"
