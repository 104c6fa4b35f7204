"""Header limits: total size and count of a request's header fields, answered 431.

Two layers, one promise (``[gateway] max_header_bytes`` and ``max_headers``):

- :class:`HeaderLimits`, the outermost ASGI middleware: counts the fields uvicorn parsed and
  answers 431 in the client's error shape (Anthropic's on ``/v1/messages``, OpenAI's elsewhere)
  before authentication, routing or reading the body. It applies wherever the app is served.
- :class:`GuardedHttpToolsProtocol`, uvicorn's httptools protocol with a cap on the bytes a
  client may send before its header block ends (httptools itself has no limit, so uvicorn
  would keep buffering a header that never ends). ``securellm gateway`` and ``securellm up``
  select it and pass the cap as ``h11_max_incomplete_event_size``, the setting uvicorn uses
  for the same limit with h11.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from securellm.core.errors import InvalidRequest
from securellm.gateway.errors import Dialect, error_body, error_response

FIELD_OVERHEAD = 4  # ": " and CRLF around each field, as on the wire
REQUEST_LINE_ALLOWANCE = 16 * 1024  # the protocol cap also covers the request line
LINGER_S = 2.0  # how long a refused connection keeps reading before it closes
PROTOCOL_PATH = "securellm.gateway.limits_http:GuardedHttpToolsProtocol"


class HeadersTooLarge(InvalidRequest):
    status = 431
    code = "request_header_fields_too_large"


def _dialect(path: str) -> Dialect:
    return "anthropic" if path.startswith("/v1/messages") else "openai"


def excess(headers: Sequence[tuple[bytes, bytes]], max_bytes: int, max_count: int) -> str | None:
    """Why these header fields are over the limits, or ``None`` when they fit."""
    if len(headers) > max_count:
        return f"too many header fields: {len(headers)}, the limit is {max_count}"
    size = sum(len(name) + len(value) + FIELD_OVERHEAD for name, value in headers)
    if size > max_bytes:
        return f"header fields too large: {size} bytes, the limit is {max_bytes}"
    return None


class HeaderLimits:
    """ASGI middleware: 431 for a request whose header fields exceed the configured limits."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_count: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_count = max_count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = excess(scope["headers"], self.max_bytes, self.max_count)
            if problem is not None:
                response = error_response(HeadersTooLarge(problem), _dialect(scope["path"]))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def protocol_cap(max_header_bytes: int) -> int:
    """Bytes a client may send before its header block ends (the request line included)."""
    return max_header_bytes + REQUEST_LINE_ALLOWANCE


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Answers 431 and closes once an unfinished header block passes the cap.

    Bytes are counted per received chunk while the header block is incomplete; a chunk in
    which a message boundary falls is not counted, so the count never overestimates and a
    client can make the server buffer at most the cap plus one read (256 KiB). After the
    431 the connection reads and discards for up to ``LINGER_S`` so that a client still
    sending gets the answer instead of a reset, then closes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cap = self.config.h11_max_incomplete_event_size
        self._cap = cap if cap is not None else protocol_cap(32 * 1024)
        self._pending = 0
        self._in_headers = True
        self._boundaries = 0
        self._refused = False

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._boundaries += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_headers = True
        self._boundaries += 1
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: discard what the client is still sending
        before = self._boundaries
        super().data_received(data)
        if self._boundaries != before:
            self._pending = 0
        elif self._in_headers:
            self._pending += len(data)
            if self._pending > self._cap and not self.transport.is_closing():
                self._refuse()

    def _refuse(self) -> None:
        self._refused = True
        url: bytes = getattr(self, "url", b"")  # set by on_message_begin
        error = HeadersTooLarge(f"header fields too large: more than {self._cap} bytes")
        body = error_body(error, _dialect(url.decode("latin-1")))
        head = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(head))
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)
        else:  # TLS cannot half-close
            self.transport.close()


def uvicorn_options(max_header_bytes: int) -> dict[str, Any]:
    """What ``uvicorn.run`` needs for the guarded protocol: the class and its cap."""
    return {"http": PROTOCOL_PATH, "h11_max_incomplete_event_size": protocol_cap(max_header_bytes)}
