"""Cheap structural checks of client bodies: enough to refuse garbage with a clear 400/422.

The upstream validates the fine detail; we check what we rely on (model, stream,
messages) and the types a client most often gets wrong, without building models on
the hot path.
"""

from __future__ import annotations

from typing import Any

import orjson

from securellm.core.errors import InvalidRequest, PayloadTooLarge, UnprocessableRequest

JSON = dict[str, Any]
# The most output tokens a request may ask for: above every model's real limit (the largest
# today write 128k), low enough that a typo (10**12) or a negative is refused, not sent.
MAX_OUTPUT_TOKENS = 1_000_000
OUTPUT_LIMITS = ("max_tokens", "max_completion_tokens")


def parse_json_object(raw: bytes, limit: int) -> JSON:
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body is larger than the {limit}-byte limit")
    if not raw:
        raise InvalidRequest("request body is empty; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise UnprocessableRequest("request body must be a JSON object")
    return body


def _require(body: JSON, name: str, kind: type | tuple[type, ...], what: str) -> Any:
    if name not in body or body[name] is None:
        raise UnprocessableRequest(f"'{name}' is required", param=name)
    value = body[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
        raise UnprocessableRequest(f"'{name}' must be {what}", param=name)
    return value


def _optional(body: JSON, name: str, kind: type | tuple[type, ...], what: str) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
        raise UnprocessableRequest(f"'{name}' must be {what}", param=name)


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def model_and_stream(body: JSON) -> tuple[str, bool]:
    model = _require(body, "model", str, "a string")
    if not model.strip():
        raise UnprocessableRequest("'model' must not be empty", param="model")
    _optional(body, "stream", bool, "a boolean")
    _optional(body, "stream_options", dict, "an object")
    return model, bool(body.get("stream", False))


def output_limit_problem(value: int) -> str | None:
    """Why an output-token limit is refused (below 1 or above the cap), if it is."""
    if value < 1:
        return f"must be at least 1 (got {value})"
    if value > MAX_OUTPUT_TOKENS:
        return f"must be at most {MAX_OUTPUT_TOKENS} (got {value})"
    return None


def check_output_limits(body: JSON) -> None:
    """``max_tokens`` / ``max_completion_tokens``: integers from 1 to the cap (400 otherwise)."""
    for name in OUTPUT_LIMITS:
        _optional(body, name, int, "an integer")
        value = body.get(name)
        problem = output_limit_problem(value) if value is not None else None
        if problem is not None:
            raise InvalidRequest(f"'{name}' {problem}", param=name)


def check_sampling(body: JSON) -> None:
    check_output_limits(body)
    for name in ("n", "top_k"):
        _optional(body, name, int, "an integer")
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        _optional(body, name, (int, float), "a number")
    _optional(body, "stop", (str, list), "a string or a list of strings")
    _optional(body, "tools", list, "a list")
    _optional(body, "metadata", dict, "an object")


def check_chat(body: JSON) -> tuple[str, bool]:
    model, stream = model_and_stream(body)
    messages = _require(body, "messages", list, "a list of messages")
    if not messages:
        raise UnprocessableRequest("'messages' must not be empty", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise UnprocessableRequest(
                f"messages[{index}] must be an object with a string 'role'",
                param=f"messages[{index}]",
            )
    check_sampling(body)
    return model, stream


def check_completion(body: JSON) -> tuple[str, bool]:
    model, stream = model_and_stream(body)
    _require(body, "prompt", (str, list), "a string or a list")
    check_sampling(body)
    return model, stream


def check_embedding(body: JSON) -> tuple[str, bool]:
    model, stream = model_and_stream(body)
    if stream:
        raise UnprocessableRequest("embeddings cannot be streamed", param="stream")
    _require(body, "input", (str, list), "a string or a list")
    return model, False
