"""Shared pieces of the translations: stop reasons, usage objects, ids, SSE framing."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from securellm.core.errors import InvalidRequest, UpstreamError
from securellm.providers.base import Usage

JSON = dict[str, Any]


class Unreadable(UpstreamError):
    """An upstream reply or stream event with a field of the wrong type (a 502 when raised).

    Stream translators catch it and end the stream with the client dialect's error event.
    """

    def __init__(self, field: str, expected: str) -> None:
        super().__init__(
            f"the upstream sent data that cannot be read ({field} should be {expected})"
        )


def obj(value: Any, field: str) -> JSON:
    """``value`` as a JSON object; a missing (null) one is empty."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise Unreadable(field, "an object")


def items(value: Any, field: str) -> list[Any]:
    """``value`` as a JSON list; a missing (null) one is empty."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise Unreadable(field, "a list")


def objects(value: Any, field: str) -> list[JSON]:
    """``value`` as a list of JSON objects (null entries skipped)."""
    return [obj(item, f"{field}[]") for item in items(value, field) if item is not None]


def opt_text(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise Unreadable(field, "a string")


def index_of(value: Any, field: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise Unreadable(field, "an integer")


def error_message(error: Any, default: str = "upstream error") -> str:
    """The message of an upstream error: an object with ``message`` or Ollama's string."""
    if isinstance(error, dict):
        error = error.get("message") or error.get("type")
    return error if isinstance(error, str) and error else default


def error_kind(error: Any, default: str) -> str:
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) and kind else default


# Anthropic ``stop_reason`` -> OpenAI ``finish_reason``.
FINISH_OF_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# OpenAI ``finish_reason`` -> Anthropic ``stop_reason``.
STOP_OF_FINISH = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def finish_reason(stop_reason: Any) -> str:
    return FINISH_OF_STOP.get(str(stop_reason), "stop")


def stop_reason(finish: Any) -> str:
    return STOP_OF_FINISH.get(str(finish), "end_turn")


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


# More tokens than any one request uses: a count past it is clamped, so a broken or lying
# upstream cannot overflow the 64-bit integers of JSON, the budget ledger or the audit index.
MAX_TOKENS = 100_000_000


def count(value: Any) -> int:
    """An upstream's token count: a positive integer (at most ``MAX_TOKENS``), else 0."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return min(value, MAX_TOKENS)
    return 0


def usage_from_anthropic(data: Any) -> Usage:
    """Anthropic counts cached input apart; our prompt tokens include it."""
    if not isinstance(data, dict):
        return Usage()
    cache_read = count(data.get("cache_read_input_tokens"))
    cache_write = count(data.get("cache_creation_input_tokens"))
    return Usage(
        prompt_tokens=count(data.get("input_tokens")) + cache_read + cache_write,
        completion_tokens=count(data.get("output_tokens")),
        cached_tokens=cache_read,
    )


def usage_from_openai(data: Any) -> Usage:
    """OpenAI's ``usage`` object (DeepSeek spells cached tokens its own way)."""
    if not isinstance(data, dict):
        return Usage()
    details = data.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(
        prompt_tokens=count(data.get("prompt_tokens")),
        completion_tokens=count(data.get("completion_tokens")),
        cached_tokens=count(cached or data.get("prompt_cache_hit_tokens")),
    )


def openai_usage(usage: Usage) -> JSON:
    data: JSON = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens:
        data["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    return data


def anthropic_usage(usage: Usage) -> JSON:
    return {
        "input_tokens": max(usage.prompt_tokens - usage.cached_tokens, 0),
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": 0,
    }


def openai_sse(payload: JSON) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


OPENAI_DONE = b"data: [DONE]\n\n"


def anthropic_sse(event: str, payload: JSON) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def anthropic_error_sse(message: str, error_type: str = "api_error") -> bytes:
    payload = {"type": "error", "error": {"type": error_type, "message": message}}
    return anthropic_sse("error", payload)


def openai_error_sse(message: str, error_type: str = "upstream_error") -> bytes:
    payload = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
    return openai_sse(payload)


def openai_error_end(message: str, error_type: str = "upstream_error") -> list[bytes]:
    """How an OpenAI-dialect stream ends on an error: the error object, then ``[DONE]``."""
    return [openai_error_sse(message, error_type), OPENAI_DONE]


def responses_sse(payload: JSON) -> bytes:
    """One Responses API event: its ``type`` is also the SSE event name."""
    return anthropic_sse(str(payload["type"]), payload)  # the same framing as Anthropic's


def responses_error_sse(message: str, sequence_number: int = 0) -> bytes:
    """The Responses API's ``error`` event (for a stream that cannot say more)."""
    payload = {
        "type": "error",
        "code": "server_error",
        "message": message,
        "param": None,
        "sequence_number": sequence_number,
    }
    return responses_sse(payload)


def dumps_arguments(value: Any) -> str:
    """Tool input (a JSON object) as OpenAI's ``arguments`` string."""
    return orjson.dumps(value if value is not None else {}).decode()


def loads_or_none(raw: bytes) -> Any:
    """Parsed JSON, or ``None`` when ``raw`` is not JSON (an upstream reply or event)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def loads_arguments(arguments: Any, where: str) -> JSON:
    """OpenAI's ``arguments`` string as a JSON object; anything else is the client's error."""
    if isinstance(arguments, dict):
        return arguments
    if arguments in (None, ""):
        return {}
    try:
        value = orjson.loads(arguments)
    except (orjson.JSONDecodeError, TypeError):
        raise InvalidRequest(f"{where} must be a JSON object encoded as a string") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{where} must be a JSON object encoded as a string")
    return value


def text_of(content: Any) -> str:
    """The text of OpenAI/Anthropic content: a string, or the text parts of a list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "input_text")
        )
    raise InvalidRequest("message content must be a string or a list of parts")


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``data:<media>;base64,<data>`` -> (media type, data); None for other URLs."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(",")
    media, _, encoding = head.partition(";")
    if not sep or encoding != "base64":
        raise InvalidRequest("image data URLs must be base64-encoded (data:<type>;base64,...)")
    return media or "application/octet-stream", data
