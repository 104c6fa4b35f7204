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
from securellm.providers.base import Call, UpstreamResponse, Usage
from securellm.providers.http import HttpProvider, event_data, passthrough_headers, sse_events
from securellm.providers.translate.common import (
    anthropic_error_sse,
    openai_error_sse,
    usage_from_anthropic,
)
from securellm.providers.translate.stream_to_openai import AnthropicToOpenAIStream
from securellm.providers.translate.to_anthropic import chat_to_messages, message_to_completion

API_VERSION = "2023-06-01"
JSON_HEADERS = {"content-type": "application/json"}


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
            return UpstreamResponse(body=raw, usage=_usage_of_body(raw), headers=headers)
        result = UpstreamResponse(media_type="text/event-stream", headers=headers)
        result.stream = self._relay(response, result)
        return result

    async def count_tokens(self, call: Call) -> UpstreamResponse:
        body = {**call.body, "model": call.model}
        response = await self._post("/v1/messages/count_tokens", body, call)
        headers = passthrough_headers(response)
        return UpstreamResponse(body=await self.client.read_body(response), headers=headers)

    async def chat(self, call: Call) -> UpstreamResponse:
        body = chat_to_messages(call.body, call.model)
        response = await self._post("/v1/messages", body, call)
        headers = passthrough_headers(response)
        if not call.stream:
            message = _parse(await self.client.read_body(response))
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

    async def _relay(
        self, response: aiohttp.ClientResponse, result: UpstreamResponse
    ) -> AsyncIterator[bytes]:
        """Anthropic to Anthropic: bytes unchanged; usage and completion read on the side."""
        try:
            async for event in sse_events(response):
                data = event_data(event)
                if data is not None and _interesting(data):
                    _observe(_parse(data), result)
                yield event + b"\n\n"
        except (TimeoutError, aiohttp.ClientError) as exc:
            yield anthropic_error_sse(_break_message(self.name, exc))
        finally:
            response.release()

    async def _translate(
        self,
        response: aiohttp.ClientResponse,
        result: UpstreamResponse,
        translator: AnthropicToOpenAIStream,
    ) -> AsyncIterator[bytes]:
        try:
            async for event in sse_events(response):
                data = event_data(event)
                if data is None:
                    continue
                for chunk in translator.feed(_parse(data)):
                    yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            yield openai_error_sse(_break_message(self.name, exc))
        finally:
            response.release()
            result.usage = translator.usage
            result.complete = translator.complete


def _interesting(data: bytes) -> bool:
    return data.startswith((b'{"type":"message_', b'{"type": "message_'))


def _observe(data: dict[str, Any], result: UpstreamResponse) -> None:
    kind = data.get("type")
    if kind == "message_start":
        result.usage = usage_from_anthropic((data.get("message") or {}).get("usage"))
    elif kind == "message_delta":
        usage = data.get("usage") or {}
        if usage.get("input_tokens") is not None:
            result.usage = usage_from_anthropic({**usage, "output_tokens": 0})
        result.usage.completion_tokens = int(usage.get("output_tokens") or 0)
    elif kind == "message_stop":
        result.complete = True


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {
            "type": "error",
            "error": {"type": "api_error", "message": "invalid upstream event"},
        }
    return data if isinstance(data, dict) else {}


def _usage_of_body(raw: bytes) -> Usage:
    return usage_from_anthropic(_parse(raw).get("usage"))


def _break_message(name: str, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"provider {name!r} timed out mid-stream"
    return f"provider {name!r} broke the stream: {type(exc).__name__}"
