"""The Anthropic Messages API surface: ``/v1/messages`` and ``/v1/messages/count_tokens``.

Same pipeline as the OpenAI routes (keys, limits, audit); bodies are checked in
Anthropic's terms and every error leaves in Anthropic's error shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm.core.errors import InvalidRequest, PermissionDenied, UnprocessableRequest
from securellm.gateway.context import RequestContext
from securellm.gateway.dispatch import Operation
from securellm.gateway.service import read_body, serve, to_response
from securellm.gateway.state import GatewayState
from securellm.gateway.validation import JSON, parse_json_object

Checker = Callable[[JSON], tuple[str, bool]]
ROLES = ("user", "assistant")


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
            raise _fail(f"messages.{index}.role", "Input should be 'user' or 'assistant'")
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


async def _body(request: Request, state: GatewayState) -> JSON:
    limit = state.settings.gateway.max_body_bytes
    raw = await read_body(request, limit)
    try:
        return parse_json_object(raw, limit)
    except UnprocessableRequest as exc:  # Anthropic answers every malformed body with 400
        raise InvalidRequest(exc.message) from None


async def messages_proxy(
    ctx: RequestContext, state: GatewayState, request: Request, check: Checker, op: Operation
) -> Response:
    """Authenticate, validate, route and relay one Messages API request."""
    ctx.key = await state.auth.authenticate(request.headers)
    beta = request.headers.get("anthropic-beta")
    if beta:
        ctx.forward_headers["anthropic-beta"] = beta
    body = await _body(request, state)
    ctx.model, ctx.stream = check(body)
    route = await state.catalog.resolve(ctx.model)
    if not ctx.key.allows_model(ctx.model):
        raise PermissionDenied(f"this key may not use model {ctx.model!r}", param="model")
    await state.admission.admit(ctx, route, body)
    upstream = await state.dispatcher.dispatch(ctx, route, op, body, ctx.stream)
    return to_response(ctx, state, upstream)


def _endpoint(name: Operation, check: Checker) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        async def work(ctx: RequestContext, state: GatewayState, req: Request) -> Response:
            return await messages_proxy(ctx, state, req, check, name)

        return await serve(request, name, "anthropic", work)

    handler.__name__ = f"anthropic_{name}"
    return handler


routes = [
    Route("/v1/messages", _endpoint("messages", check_messages), methods=["POST"]),
    Route(
        "/v1/messages/count_tokens",
        _endpoint("count_tokens", check_count_tokens),
        methods=["POST"],
    ),
]
