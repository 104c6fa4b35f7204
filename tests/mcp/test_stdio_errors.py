"""Bad frames on the real ``securellm mcp`` stdin get JSON-RPC errors, and serving goes on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from securellm.mcp.stdio import check_frame

from .test_stdio import server_env, write_config

SERVER = [sys.executable, "-m", "securellm", "mcp"]
INIT = (
    b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}\n'
    b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
)
AFTER = b'{"jsonrpc":"2.0","id":"after","method":"tools/list"}\n'


def exchange(tmp_path: Path, frame: bytes) -> dict[Any, dict[str, Any]]:
    """Initialise, send ``frame`` then a valid request; the answers by id, once both came."""
    process = subprocess.Popen(
        [*SERVER, "--config", str(write_config(tmp_path))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=server_env(tmp_path),
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(INIT + frame + b"\n" + AFTER)
    process.stdin.flush()
    answers: dict[Any, dict[str, Any]] = {}
    for line in iter(process.stdout.readline, b""):
        message = json.loads(line)
        answers[message.get("id", "notification")] = message
        if "after" in answers and (None in answers or len(answers) >= 3):
            break
    process.stdin.close()
    process.wait(timeout=30)
    return answers


def test_malformed_json_gets_a_parse_error_with_a_null_id(tmp_path: Path) -> None:
    answers = exchange(tmp_path, b'{"jsonrpc": "2.0", "id": 7, "method": ')
    assert answers[None]["error"]["code"] == -32700


def test_invalid_utf8_gets_invalid_params_with_the_request_id(tmp_path: Path) -> None:
    frame = b'{"jsonrpc":"2.0","id":7,"method":"ping","params":{"x":"\xff\xfe"}}'
    assert exchange(tmp_path, frame)[7]["error"]["code"] == -32602


def test_a_lone_surrogate_gets_invalid_params_with_the_request_id(tmp_path: Path) -> None:
    frame = (
        b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"knowledge_save",'
        b'"arguments":{"content":"\\ud800"}}}'
    )
    assert exchange(tmp_path, frame)[7]["error"]["code"] == -32602


def test_the_server_keeps_serving_after_a_bad_frame(tmp_path: Path) -> None:
    answers = exchange(tmp_path, b"this is not json")
    assert len(answers["after"]["result"]["tools"]) > 0


@pytest.mark.parametrize(
    ("frame", "code", "request_id"),
    [
        (b"not json", -32700, None),
        (b"\xc3\x28", -32602, None),
        (b'{"id": 3, "method": "x", "s": "\xed\xa0\x80"}', -32602, 3),
        (b'{"jsonrpc":"2.0","id":"a","method":"x","params":["\\udfff"]}', -32602, "a"),
        (b"[]", -32600, None),
        (b'{"id": 4, "method": "ping"}', -32600, 4),
    ],
)
def test_each_kind_of_bad_frame_gets_its_code(
    frame: bytes, code: int, request_id: int | str | None
) -> None:
    error = check_frame(frame)
    assert error is not None
    assert (error.error.code, error.id) == (code, request_id)


def test_a_good_frame_passes_unchanged() -> None:
    assert (
        check_frame(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"caf\xc3\xa9"}}')
        is None
    )
