"""The proxy to model servers: the SSE rewrite of model ids, and how their errors are relayed."""

from __future__ import annotations

import orjson

from securellm.offload.api.proxy import SseRenamer, upstream_error


def test_model_is_renamed_in_each_data_line() -> None:
    renamer = SseRenamer("gemma-3-270m")
    out = renamer.feed(b'data: {"model": "/models/x.gguf", "n": 1}\r\n\r\ndata: [DONE]\r\n\r\n')
    first, *rest = out.split(b"\r\n")
    assert orjson.loads(first[6:]) == {"model": "gemma-3-270m", "n": 1}
    assert rest == [b"", b"data: [DONE]", b"", b""]


def test_lines_split_across_chunks_are_joined() -> None:
    renamer = SseRenamer("m")
    out = renamer.feed(b'data: {"model": "a"')
    out += renamer.feed(b', "x": 2}\n\n')
    assert out == b'data: {"model":"m","x":2}\n\n'


def test_trailing_partial_line_is_flushed() -> None:
    renamer = SseRenamer("m")
    assert renamer.feed(b": keep-alive") == b""
    assert renamer.flush() == b": keep-alive"


def test_non_json_data_is_passed_through() -> None:
    assert SseRenamer("m").feed(b"data: {broken\n") == b"data: {broken\n"


def test_a_model_server_5xx_is_relayed_as_502() -> None:
    body = b'{"error": {"message": "llama crashed", "type": "server_error"}}'
    response = upstream_error(500, body)
    assert (response.status_code, response.body) == (502, body)


def test_a_model_server_4xx_is_relayed_with_its_status() -> None:
    response = upstream_error(400, b'{"error": {"message": "bad", "type": "x"}}')
    assert response.status_code == 400
