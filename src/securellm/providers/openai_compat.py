"""OpenAI-dialect upstreams: OpenAI, DeepSeek, llama.cpp, vLLM, TGI, offload.

Same dialect on both sides, so bodies and SSE events are relayed as bytes; only the
``usage`` object is parsed on the side, and error events, which are relayed redacted.
For streams the upstream is asked for usage (``stream_options.include_usage``) and the
usage-only chunk is dropped again when the client did not ask for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from securellm.core.config import ProviderSettings
from securellm.providers.base import Call, UpstreamResponse, Usage
from securellm.providers.http import (
    HttpProvider,
    bearer,
    event_data,
    passthrough_headers,
    sse_events,
)
from securellm.providers.responses_native import native_responses
from securellm.providers.tokens import (
    ServerTokenizer,
    TiktokenCounter,
    TokenCount,
    count_response,
    estimate,
)
from securellm.providers.translate.bridge import chat_for_count, messages_via_chat
from securellm.providers.translate.common import (
    OPENAI_DONE,
    error_message,
    loads_or_none,
    openai_error_end,
    openai_sse,
)
from securellm.providers.translate.responses_bridge import responses_via_chat

JSON_HEADERS = {"content-type": "application/json"}
TIKTOKEN_KINDS = ("openai", "deepseek")  # cloud models counted here; the others ask the server
# Chat servers that take ``reasoning_effort`` (the others refuse or ignore it).
REASONING_EFFORT_KINDS = frozenset({"openai-compatible", "vllm"})
# Servers that read Ollama's per-request ``keep_alive``; the others never get it (OpenAI
# refuses fields it does not know).
KEEP_ALIVE_KINDS = frozenset({"offload"})


def usage_from_openai(data: Any) -> Usage:
    """Read an OpenAI ``usage`` object; anything malformed counts as zero."""
    if not isinstance(data, dict):
        return Usage()
    details = data.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens", 0) if isinstance(details, dict) else 0
    cached = cached or data.get("prompt_cache_hit_tokens", 0)  # DeepSeek's spelling
    return Usage(
        prompt_tokens=_int(data.get("prompt_tokens")),
        completion_tokens=_int(data.get("completion_tokens")),
        cached_tokens=_int(cached),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


class OpenAICompatibleProvider(HttpProvider):
    """Relays the OpenAI wire format to an OpenAI-compatible upstream."""

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings, bearer(settings))
        self.tiktoken = TiktokenCounter()
        self.tokenizer = ServerTokenizer(lambda: self.client.session, self.client.base_url)

    async def chat(self, call: Call) -> UpstreamResponse:
        return await self._post("/chat/completions", call)

    async def completions(self, call: Call) -> UpstreamResponse:
        return await self._post("/completions", call)

    async def embeddings(self, call: Call) -> UpstreamResponse:
        return await self._post("/embeddings", call)

    async def messages(self, call: Call) -> UpstreamResponse:
        """Anthropic clients: translated to chat and back (streams included)."""
        return await messages_via_chat(self.chat, call, self.name)

    async def count_tokens(self, call: Call) -> UpstreamResponse:
        """Counted by the model server's tokenizer, tiktoken for OpenAI's, else estimated."""
        chat, headers = chat_for_count(call, self.name)
        count = await self._count(chat, call.model)
        return count_response(count or estimate(chat), headers)

    async def _count(self, chat: dict[str, Any], model: str) -> TokenCount | None:
        if self.settings.kind in TIKTOKEN_KINDS:
            own = self.settings.kind == "openai"
            return await self.tiktoken.count(chat, model, own_tokenizer=own)
        return await self.tokenizer.count(chat, model)

    async def responses(self, call: Call) -> UpstreamResponse:
        """Responses API clients: OpenAI's own API natively, every other server via chat."""
        if self.settings.kind == "openai":
            return await native_responses(self, call)
        effort = self.settings.kind in REASONING_EFFORT_KINDS
        return await responses_via_chat(self.chat, call, reasoning_effort=effort)

    async def _post(self, path: str, call: Call) -> UpstreamResponse:
        body = dict(call.body)
        body["model"] = call.model
        if self.settings.kind not in KEEP_ALIVE_KINDS:
            body.pop("keep_alive", None)
        forward_usage = True
        if call.stream:
            options = body.get("stream_options")
            options = options if isinstance(options, dict) else {}
            forward_usage = bool(options.get("include_usage"))
            body["stream_options"] = {**options, "include_usage": True}
        response = await self.client.request(
            "POST", path, body=orjson.dumps(body), headers=JSON_HEADERS
        )
        headers = passthrough_headers(response)
        if not call.stream:
            raw = await self.client.read_body(response)
            return UpstreamResponse(body=raw, usage=self._usage_of_body(raw), headers=headers)
        result = UpstreamResponse(media_type="text/event-stream", headers=headers)
        result.stream = self._relay(
            response, result, forward_usage=forward_usage, prompt_estimate=_estimate_prompt(body)
        )
        return result

    async def _relay(
        self,
        response: aiohttp.ClientResponse,
        result: UpstreamResponse,
        *,
        forward_usage: bool,
        prompt_estimate: int,
    ) -> AsyncIterator[bytes]:
        """Events as bytes; those naming ``usage`` or ``error`` are read on the way.

        An error event (redacted) or an unreadable one ends the stream with ``[DONE]``
        and sets ``failure``; so does a broken connection or a timeout.
        """
        content_events = 0
        try:
            async for event in sse_events(response):
                data = event_data(event)
                if data == b"[DONE]":
                    result.complete = True
                    yield OPENAI_DONE
                    continue
                if data is not None and (b'"usage"' in data or b'"error"' in data):
                    chunk = loads_or_none(data)
                    ending = self._ending(chunk)
                    if ending is not None:
                        result.failure = ending[0]
                        for piece in ending[1]:
                            yield piece
                        return
                    if _take_usage(chunk, result) and not forward_usage:
                        continue
                content_events += 1
                yield event + b"\n\n"
        except TimeoutError:
            result.failure = f"provider {self.name!r} timed out mid-stream"
            for piece in openai_error_end(result.failure, "timeout_error"):
                yield piece
        except aiohttp.ClientError as exc:
            result.failure = f"provider {self.name!r} broke the stream: {type(exc).__name__}"
            for piece in openai_error_end(result.failure):
                yield piece
        finally:
            response.release()
            if result.usage.total_tokens == 0:
                # The upstream sent no usage (llama-cpp-python ignores include_usage): one
                # content event is one token on the servers we know; the prompt is estimated.
                result.usage = Usage(
                    prompt_tokens=prompt_estimate, completion_tokens=max(content_events - 1, 0)
                )

    def _ending(self, chunk: Any) -> tuple[str, list[bytes]] | None:
        """(failure, closing events) when ``chunk`` is an error or cannot be read."""
        if not isinstance(chunk, dict) or not isinstance(chunk.get("usage") or {}, dict):
            failure = f"provider {self.name!r} sent a stream event that cannot be read"
            return failure, openai_error_end(failure)
        error = chunk.get("error")
        if error is None and chunk.get("object") == "error":  # vLLM's older error shape
            error = chunk
        if error is None:
            return None
        scrubbed = self.client.scrub(error)
        failure = f"provider {self.name!r} sent an error mid-stream: {error_message(scrubbed)}"
        payload = scrubbed if isinstance(scrubbed, dict) else {"message": error_message(scrubbed)}
        return failure, [openai_sse({"error": payload}), OPENAI_DONE]

    def _usage_of_body(self, raw: bytes) -> Usage:
        parsed = loads_or_none(raw)
        error = self.client.error_in_body(parsed)
        if error is not None:
            raise error
        return usage_from_openai(parsed.get("usage")) if isinstance(parsed, dict) else Usage()


def _estimate_prompt(body: dict[str, Any]) -> int:
    """About four characters a token: used only when the upstream reports no usage."""
    text = body.get("messages") or body.get("prompt") or ""
    return max(1, len(orjson.dumps(text)) // 4)


def _take_usage(chunk: dict[str, Any], result: UpstreamResponse) -> bool:
    """Record usage from a chunk; True when the chunk carried usage and no choices."""
    if not chunk.get("usage"):
        return False
    result.usage = usage_from_openai(chunk["usage"])
    return not chunk.get("choices")
