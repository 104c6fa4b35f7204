"""Ollama's native API as a provider (kind ``ollama``, default http://127.0.0.1:11434).

OpenAI clients are translated to ``/api/chat``, ``/api/generate`` and ``/api/embed``;
NDJSON streams become SSE. Anthropic clients go through the OpenAI translation.
Models are discovered from ``/api/tags``; ``keep_alive`` is passed through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson

from securellm.core.config import ProviderSettings
from securellm.core.errors import UpstreamError
from securellm.providers.base import Call, UpstreamResponse, Usage
from securellm.providers.http import (
    DISCOVERY_TIMEOUT_S,
    HttpProvider,
    bearer,
    ndjson_lines,
    passthrough_headers,
)
from securellm.providers.tokens import count_response, estimate
from securellm.providers.translate import ollama as wire
from securellm.providers.translate.bridge import chat_for_count, messages_via_chat
from securellm.providers.translate.responses_bridge import responses_via_chat

JSON_HEADERS = {"content-type": "application/json"}
Translate = Callable[[dict[str, Any], str], dict[str, Any]]


class OllamaProvider(HttpProvider):
    """Talks to an Ollama server; a key, when configured, is sent as a bearer token."""

    models_path = "/api/tags"

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings, bearer(settings))

    def model_ids(self, data: Any) -> list[str]:
        return _names(data)

    async def running_models(self) -> list[str]:
        """Models loaded in memory right now (``/api/ps``)."""
        return _names(await self.client.get_json("/api/ps", timeout=DISCOVERY_TIMEOUT_S))

    async def chat(self, call: Call) -> UpstreamResponse:
        return await self._generate("/api/chat", call, wire.chat_request, wire.chat_completion)

    async def completions(self, call: Call) -> UpstreamResponse:
        return await self._generate(
            "/api/generate", call, wire.generate_request, wire.text_completion
        )

    async def embeddings(self, call: Call) -> UpstreamResponse:
        response = await self._post("/api/embed", wire.embed_request(call.body, call.model))
        data = self._reply(await self.client.read_body(response))
        reply = wire.embeddings(data, call.model, call.body.get("encoding_format"))
        usage = Usage(prompt_tokens=reply["usage"]["prompt_tokens"])
        return UpstreamResponse(body=orjson.dumps(reply), usage=usage)

    async def responses(self, call: Call) -> UpstreamResponse:
        return await responses_via_chat(self.chat, call)

    async def messages(self, call: Call) -> UpstreamResponse:
        return await messages_via_chat(self.chat, call, self.name)

    async def count_tokens(self, call: Call) -> UpstreamResponse:
        """Estimated: Ollama's API has no tokenizer endpoint."""
        chat, headers = chat_for_count(call, self.name)
        return count_response(estimate(chat), headers)

    async def _generate(
        self, path: str, call: Call, request: Translate, reply: Translate
    ) -> UpstreamResponse:
        response = await self._post(path, request(call.body, call.model))
        headers = passthrough_headers(response)
        if not call.stream:
            data = self._reply(await self.client.read_body(response))
            return UpstreamResponse(
                body=orjson.dumps(reply(data, call.model)),
                usage=wire.usage_of(data),
                headers=headers,
            )
        options = call.body.get("stream_options")
        translator = wire.OllamaToOpenAIStream(
            call.model,
            include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
            chat=path == "/api/chat",
        )
        result = UpstreamResponse(media_type="text/event-stream", headers=headers)
        result.stream = self._translate(response, result, translator)
        return result

    async def _post(self, path: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
        return await self.client.request(
            "POST", path, body=orjson.dumps(body), headers=JSON_HEADERS
        )

    def _reply(self, raw: bytes) -> dict[str, Any]:
        """A whole reply as an object; an error object in it (even with 200) is raised."""
        data = _parse(raw)
        error = self.client.error_in_body(data)
        if error is not None:
            raise error
        return data

    async def _translate(
        self,
        response: aiohttp.ClientResponse,
        result: UpstreamResponse,
        translator: wire.OllamaToOpenAIStream,
    ) -> AsyncIterator[bytes]:
        """NDJSON lines out as OpenAI chunks; an error line (redacted), an unreadable one,
        a broken connection or a timeout ends the stream and sets ``failure``."""
        events = 0
        try:
            async for line in ndjson_lines(response):
                for chunk in translator.feed(self._line(line)):
                    events += 1
                    yield chunk
                if translator.failed:
                    break
        except TimeoutError:
            for chunk in translator.fail(f"provider {self.name!r} timed out mid-stream"):
                yield chunk
        except aiohttp.ClientError as exc:
            message = f"provider {self.name!r} broke the stream: {type(exc).__name__}"
            for chunk in translator.fail(message):
                yield chunk
        finally:
            response.release()
            result.complete = translator.complete
            result.failure = translator.failure
            # Counts arrive on the last line; a broken stream is counted one event a token.
            result.usage = (
                translator.usage if translator.complete else Usage(completion_tokens=events)
            )

    def _line(self, raw: bytes) -> Any:
        """One NDJSON line parsed (error lines redacted); not JSON: an error line."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {"error": "the Ollama server sent invalid JSON"}
        return self.client.scrub(data) if b'"error"' in raw else data


def _names(data: Any) -> list[str]:
    items = data.get("models", []) if isinstance(data, dict) else []
    return [str(m["name"]) for m in items if isinstance(m, dict) and "name" in m]


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError("the Ollama server sent invalid JSON") from None
    if not isinstance(data, dict):
        raise UpstreamError("the Ollama server sent an unexpected reply")
    return data
