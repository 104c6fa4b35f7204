"""The Anthropic Messages API surface: ``/v1/messages`` and ``/v1/messages/count_tokens``.

Same pipeline as the OpenAI routes (keys, limits, audit); bodies are checked in
Anthropic's terms and every error leaves in Anthropic's error shape.
"""

from __future__ import annotations

from starlette.routing import Route

from securellm.core.errors import InvalidRequest
from securellm.gateway.pipeline import endpoint
from securellm.gateway.validation import JSON, MAX_OUTPUT_TOKENS

ROLES = ("user", "assistant", "system")  # system: Claude Code's mid-conversation entries


def _fail(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {message}", param=param)


def _check_type(body: JSON, name: str, kind: type | tuple[type, ...], what: str) -> None:
    value = body.get(name)
    if value is None:
        return
    wrong_bool = isinstance(value, bool) and kind is not bool  # True is an int in Python
    if wrong_bool or not isinstance(value, kind):
        raise _fail(name, f"Input should be {what}")


def _check_messages(body: JSON) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _fail("messages", "Field required (a non-empty list of messages)")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _fail(f"messages.{index}", "Input should be an object")
        if message.get("role") not in ROLES:
            raise _fail(f"messages.{index}.role", "Input should be 'user', 'assistant' or 'system'")
        content = message.get("content")
        if isinstance(content, list):
            for position, block in enumerate(content):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    raise _fail(f"messages.{index}.content.{position}", "each block needs a 'type'")
        elif not isinstance(content, str):
            raise _fail(f"messages.{index}.content", "Input should be a string or a list of blocks")


def _check_common(body: JSON) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _fail("model", "Field required (a non-empty string)")
    _check_messages(body)
    _check_type(body, "system", (str, list), "a string or a list of text blocks")
    _check_type(body, "tools", list, "a list")
    _check_type(body, "tool_choice", dict, "an object")
    return model


def check_messages(body: JSON) -> tuple[str, bool]:
    model = _check_common(body)
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _fail("max_tokens", "Field required (an integer of at least 1)")
    if max_tokens > MAX_OUTPUT_TOKENS:
        raise _fail("max_tokens", f"Input should be at most {MAX_OUTPUT_TOKENS}")
    _check_type(body, "stream", bool, "a boolean")
    for name in ("temperature", "top_p"):
        _check_type(body, name, (int, float), "a number")
    _check_type(body, "top_k", int, "an integer")
    _check_type(body, "metadata", dict, "an object")
    stop = body.get("stop_sequences")
    if stop is not None and (
        not isinstance(stop, list) or not all(isinstance(s, str) for s in stop)
    ):
        raise _fail("stop_sequences", "Input should be a list of strings")
    return model, bool(body.get("stream", False))


def check_count_tokens(body: JSON) -> tuple[str, bool]:
    return _check_common(body), False


routes = [
    Route("/v1/messages", endpoint("messages", check_messages, "anthropic"), methods=["POST"]),
    Route(
        "/v1/messages/count_tokens",
        endpoint("count_tokens", check_count_tokens, "anthropic"),
        methods=["POST"],
    ),
]
