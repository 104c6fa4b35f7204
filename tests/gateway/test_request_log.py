"""RequestLog, the outermost middleware: a line for what never reaches the pipeline too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from securellm.core.log_lines import LineWriter
from securellm.core.redact import redact
from securellm.gateway.limits_http import HeaderLimits
from securellm.gateway.request_log import RequestLog
from support.asgi_server import serve_app


async def hello(_request: Request) -> Response:
    return PlainTextResponse("hello")


async def broken(_request: Request) -> Response:
    raise RuntimeError("a bug")


@pytest.fixture
def served() -> Iterator[tuple[str, int]]:
    """An app behind RequestLog and HeaderLimits (max 20 fields): ``(url, read end)``."""
    read_fd, write_fd = os.pipe()
    middleware = [
        Middleware(RequestLog, writer=LineWriter(write_fd), redact=redact),
        Middleware(HeaderLimits, max_bytes=32 * 1024, max_count=20),
    ]
    routes = [Route("/hello", hello), Route("/broken", broken)]
    app = Starlette(routes=routes, middleware=middleware)
    with serve_app(app) as url:
        yield url, read_fd
    os.close(read_fd)
    os.close(write_fd)


def one_line(read_fd: int) -> dict[str, Any]:
    line = os.read(read_fd, 65536)
    assert line.count(b"\n") == 1
    parsed: dict[str, Any] = orjson.loads(line)
    return parsed


def test_a_response_without_a_request_id_gets_the_one_its_line_has(
    served: tuple[str, int],
) -> None:
    url, read_fd = served
    answer = httpx.get(f"{url}/hello")
    line = one_line(read_fd)
    assert answer.headers["x-request-id"] == line["request_id"]
    assert (line["status"], line["outcome"], line["key"]) == (200, "ok", None)


def test_a_request_over_the_header_limit_is_logged_as_431(served: tuple[str, int]) -> None:
    url, read_fd = served
    headers = {f"x-filler-{n}": "1" for n in range(30)}
    answer = httpx.get(f"{url}/hello", headers=headers)
    line = one_line(read_fd)
    assert answer.status_code == 431
    assert line["status"] == 431
    assert line["error_code"] == "request_header_fields_too_large"


def test_an_unhandled_error_is_logged_as_500_and_failed(served: tuple[str, int]) -> None:
    url, read_fd = served
    answer = httpx.get(f"{url}/broken")
    line = one_line(read_fd)
    assert answer.status_code == 500
    assert (line["status"], line["outcome"]) == (500, "failed")


def test_a_key_in_the_path_is_masked(served: tuple[str, int]) -> None:
    url, read_fd = served
    secret = "sk-pasted-into-the-path-0123456789abcdef"
    httpx.get(f"{url}/{secret}")
    line = one_line(read_fd)
    assert secret not in line["path"]
    assert line["status"] == 404
