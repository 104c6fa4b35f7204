"""A fixed-response OpenAI-dialect upstream: the fastest honest baseline we can run here.

Run: ``python -m uvicorn benchmarks.fixed_upstream:app --port N`` (raw ASGI, no framework).
Answers every POST with the same chat completion (or a 3-chunk SSE stream when the body
asks for ``"stream": true``) and ``GET /v1/models`` with one model, ``fixed``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

COMPLETION = (
    b'{"id":"chatcmpl-fixed","object":"chat.completion","created":1700000000,"model":"fixed",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"Paris."},'
    b'"logprobs":null,"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}}'
)
MODELS = (
    b'{"object":"list","data":[{"id":"fixed","object":"model","created":0,"owned_by":"bench"}]}'
)
_CHUNK = (
    b'data: {"id":"chatcmpl-fixed","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"fixed","choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]}\n\n'
)
STREAM = (
    _CHUNK % b"Par"
    + _CHUNK % b"is."
    + b'data: {"id":"chatcmpl-fixed","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"fixed","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2,'
    b'"total_tokens":14}}\n\n' + b"data: [DONE]\n\n"
)


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["method"] == "GET":
        payload, media = MODELS, b"application/json"
    elif b'"stream":true' in body.replace(b" ", b""):
        payload, media = STREAM, b"text/event-stream"
    else:
        payload, media = COMPLETION, b"application/json"
    headers = [(b"content-type", media), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
