"""OpenAI's own Responses API (kind ``openai``): ``{base_url}/responses``, relayed as bytes.

The gateway keeps the conversation state, so the upstream is sent ``store: false`` and
no ``previous_response_id`` (the earlier turns are already in ``input``). Usage is read
from the terminal event (``response.completed``/``response.incomplete``) or the body; an
``error`` or ``response.failed`` event is relayed redacted and ends the stream. Events
are numbered from 0, one per event, so a stream cut short is closed with a
``response.failed`` numbered after the last event relayed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from securellm.providers.base import Call, UpstreamResponse, Usage
from securellm.providers.http import HttpProvider, event_data, passthrough_headers, sse_events
from securellm.providers.translate.common import (
    JSON,
    count,
    error_message,
    loads_or_none,
    responses_sse,
)

GATEWAY_FIELDS = ("previous_response_id", "conversation")
JSON_HEADERS = {"content-type": "application/json"}
TERMINAL = (b"event: response.completed", b"event: response.incomplete")
FAILED = (b"event: response.failed", b"event: error")


def usage_from_responses(data: Any) -> Usage:
    """A Responses ``usage`` object (anything malformed counts as zero)."""
    if not isinstance(data, dict):
        return Usage()
    details = data.get("input_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(
        prompt_tokens=count(data.get("input_tokens")),
        completion_tokens=count(data.get("output_tokens")),
        cached_tokens=count(cached),
    )


def native_body(call: Call) -> JSON:
    body = {k: v for k, v in call.body.items() if k not in GATEWAY_FIELDS}
    body["model"] = call.model
    body["store"] = False
    return body


async def native_responses(provider: HttpProvider, call: Call) -> UpstreamResponse:
    body = orjson.dumps(native_body(call))
    response = await provider.client.request("POST", "/responses", body=body, headers=JSON_HEADERS)
    headers = passthrough_headers(response)
    if not call.stream:
        raw = await provider.client.read_body(response)
        parsed = loads_or_none(raw)
        error = provider.client.error_in_body(parsed)
        if error is not None:
            raise error
        usage = usage_from_responses(parsed.get("usage")) if isinstance(parsed, dict) else Usage()
        return UpstreamResponse(body=raw, usage=usage, headers=headers)
    relay = NativeRelay(provider)
    result = UpstreamResponse(media_type="text/event-stream", headers=headers, closer=relay.closer)
    result.stream = relay.run(response, result)
    return result


class NativeRelay:
    """Relays one upstream Responses stream; remembers what a closing event needs."""

    def __init__(self, provider: HttpProvider) -> None:
        self.provider = provider
        self.events = 0
        self.snapshot: JSON = {}

    def closer(self, message: str) -> bytes:
        response = {**self.snapshot, "status": "failed"}
        response["error"] = {"code": "server_error", "message": message}
        payload = {"type": "response.failed", "sequence_number": self.events, "response": response}
        return responses_sse(payload)

    async def run(
        self, response: aiohttp.ClientResponse, result: UpstreamResponse
    ) -> AsyncIterator[bytes]:
        name = self.provider.name
        try:
            async for event in sse_events(response):
                ending = self._observe(event, result)
                self.events += 1
                yield ending if ending is not None else event + b"\n\n"
                if ending is not None or result.complete:
                    return
        except TimeoutError:
            result.failure = f"provider {name!r} timed out mid-stream"
            yield self.closer(result.failure)
        except aiohttp.ClientError as exc:
            result.failure = f"provider {name!r} broke the stream: {type(exc).__name__}"
            yield self.closer(result.failure)
        finally:
            response.release()

    def _observe(self, event: bytes, result: UpstreamResponse) -> bytes | None:
        """Read the first and last events; a replacement when the event must end the stream."""
        first = self.events == 0
        if not (first or event.startswith(TERMINAL) or event.startswith(FAILED)):
            return None
        data = loads_or_none(event_data(event) or b"")
        if not isinstance(data, dict):
            result.failure = f"provider {self.provider.name!r} sent an event that cannot be read"
            return self.closer(result.failure)
        snapshot = data.get("response")
        if isinstance(snapshot, dict):
            self.snapshot = snapshot
        if event.startswith(FAILED):
            scrubbed = self.provider.client.scrub(data)
            error = scrubbed.get("error") or (scrubbed.get("response") or {}).get("error")
            message = error_message(error if error else scrubbed)
            result.failure = f"provider {self.provider.name!r} failed the response: {message}"
            return responses_sse(scrubbed)
        if event.startswith(TERMINAL):
            result.usage = usage_from_responses(self.snapshot.get("usage"))
            result.complete = True
        return None
