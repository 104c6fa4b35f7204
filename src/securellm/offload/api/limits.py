"""Request limits: a body-size cap enforced before parsing, and the inference body checks.

:class:`BodyLimit` is ASGI middleware: a declared ``Content-Length`` over the cap is refused
with 413 before a byte is read; a chunked body is counted as it arrives and refused once it
passes the cap. :func:`check_inference` rejects what a model server would otherwise answer
with a random generation or a 500 (no ``messages``, an empty prompt, a negative
``max_tokens``, fields of the wrong type), each as 400 in the OpenAI error shape.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from securellm.offload.api.errors import error_response
from securellm.offload.errors import BadRequest, BodyTooLarge


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        problem = self._declared_problem(declared)
        if problem is not None:
            await problem(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _declared_problem(self, declared: bytes | None) -> Any:
        if declared is None:
            return None
        try:
            size = int(declared)
        except ValueError:
            return error_response(400, "invalid Content-Length", "invalid_request_error",
                                  "invalid_request")  # fmt: skip
        if size > self.limit:
            exc = self.too_large()
            return error_response(413, str(exc), exc.type, exc.code)
        return None

    def too_large(self) -> BodyTooLarge:
        return BodyTooLarge(
            f"request body over {self.limit} bytes (offload.max_body_bytes); send less"
        )

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise self.too_large()
            return message

        return counted


_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "stream": ((bool,), "a boolean"),
    "max_tokens": ((int,), "an integer"),
    "max_completion_tokens": ((int,), "an integer"),
    "n": ((int,), "an integer"),
    "temperature": ((int, float), "a number"),
    "top_p": ((int, float), "a number"),
    "presence_penalty": ((int, float), "a number"),
    "frequency_penalty": ((int, float), "a number"),
    "seed": ((int,), "an integer"),
    "stop": ((str, list), "a string or a list of strings"),
    "stream_options": ((dict,), "an object"),
    "tools": ((list,), "a list"),
    "response_format": ((dict,), "an object"),
}
_AT_LEAST = {"max_tokens": 1, "max_completion_tokens": 1, "n": 1}


def _check_types(payload: dict[str, Any]) -> None:
    for name, (types, words) in _TYPES.items():
        value = payload.get(name)
        if value is None:
            continue
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise BadRequest(f"'{name}' must be {words}")
        low = _AT_LEAST.get(name)
        if low is not None and isinstance(value, int) and value < low:
            raise BadRequest(f"'{name}' must be at least {low}, not {value}")


def _check_messages(payload: dict[str, Any]) -> None:
    messages = payload.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise BadRequest("'messages' is required and must be a list of objects")
    if not messages:
        raise BadRequest("'messages' must hold at least one message")
    for index, message in enumerate(messages):
        if not isinstance(message.get("role"), str):
            raise BadRequest(f"messages[{index}].role is required and must be a string")


def _check_prompt(payload: dict[str, Any]) -> None:
    prompt = payload.get("prompt")
    if not isinstance(prompt, (str, list)):
        raise BadRequest("'prompt' is required and must be a string or a list")
    if not prompt or (isinstance(prompt, str) and not prompt.strip()):
        raise BadRequest("'prompt' must not be empty")


def check_embedding_input(payload: dict[str, Any]) -> None:
    """``input``: a non-empty string or a non-empty list of them (OpenAI's text forms)."""
    value = payload.get("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise BadRequest("'input' is required and must be a string or a list of strings")
    if not texts or not all(t.strip() for t in texts):
        raise BadRequest("'input' must not be empty")
    if payload.get("encoding_format", "float") not in ("float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'")


def check_inference(payload: dict[str, Any], path: str) -> None:
    """What the model server needs: chat ``messages`` (objects), a completion's ``prompt``,
    an embedding's ``input``."""
    if path == "/chat/completions":
        _check_messages(payload)
    elif path == "/embeddings":
        check_embedding_input(payload)
    else:
        _check_prompt(payload)
    _check_types(payload)
