"""``securellm gateway`` as a process: the request log on stdout and the start banner on stderr.

One real gateway runs in front of the OpenAI wire-format upstream (and a provider nothing
listens for), its stdout and stderr read through pipes. A short session goes through it:
a good request, a stream, a client's mistaken ``/messages``, a wrong key, a wrong method.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest

from support.asgi_server import serve_app
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY
from support.require import free_port

WRONG_KEY = "sk-wrong-key-9f8e7d6c5b4a39281706"
QUERY_SECRET = "sk-in-the-query-0a1b2c3d4e5f6a7b8c9d"


@dataclass
class Session:
    """What one gateway run printed, and the request ids its answers carried."""

    stdout: str
    stderr: str
    ids: dict[str, str]  # request name -> x-request-id
    virtual_key: str
    stream_usage: Any

    def lines(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.stdout.splitlines()]

    def line_of(self, name: str) -> dict[str, Any]:
        [line] = [entry for entry in self.lines() if entry["request_id"] == self.ids[name]]
        return line


def _config(tmp_path: Path, upstream: str, port: int, down_port: int) -> Path:
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'data_dir = "{tmp_path}/data"\nlog_dir = "{tmp_path}/log"\n'
        f'state_dir = "{tmp_path}/state"\n'
        f'[gateway]\nport = {port}\nmaster_key = "{MASTER}"\n'
        f'[[providers]]\nname = "fake"\nbase_url = "{upstream}"\napi_key = "{UPSTREAM_KEY}"\n'
        f'[[providers]]\nname = "down"\nkind = "vllm"\nmodels = ["m"]\n'
        f'base_url = "http://127.0.0.1:{down_port}/v1"\n'
    )
    return config


def _start(config: Path, *options: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "securellm", "gateway", "--config", str(config), *options]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"securellm gateway exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("securellm gateway did not start within 60 s")


def _stop(process: subprocess.Popen[bytes]) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    return out.decode(errors="replace"), err.decode(errors="replace")


def _requests(base: str) -> tuple[dict[str, str], str, Any]:
    """The session: returns each request's id, the virtual key and the stream's usage."""
    ids: dict[str, str] = {}
    created = httpx.post(
        f"{base}/admin/keys", json={"name": "laptop"}, headers={"authorization": f"Bearer {MASTER}"}
    )
    virtual_key = created.json()["key"]
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=virtual_key, max_retries=0)
    chat = client.chat.completions.with_raw_response.create(
        model="fake/echo", messages=[{"role": "user", "content": "hello there"}]
    )
    ids["chat"] = chat.headers["x-request-id"]
    with client.chat.completions.with_streaming_response.create(
        model="fake/echo",
        messages=[{"role": "user", "content": "stream these words please"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        ids["stream"] = stream.headers["x-request-id"]
        usage = [chunk.usage for chunk in stream.parse() if chunk.usage is not None]
    mistaken = httpx.post(f"{base}/messages?session_token={QUERY_SECRET}", json={"model": "x"})
    ids["mistaken"] = mistaken.headers["x-request-id"]
    wrong = httpx.get(f"{base}/v1/models", headers={"authorization": f"Bearer {WRONG_KEY}"})
    ids["wrong_key"] = wrong.headers["x-request-id"]
    method = httpx.get(f"{base}/v1/chat/completions")
    ids["method"] = method.headers["x-request-id"]
    return ids, virtual_key, usage[-1] if usage else None


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    tmp_path = tmp_path_factory.mktemp("gateway_cmd")
    fake = FakeOpenAI()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve_app(fake.app()) as upstream:
        process = _start(_config(tmp_path, f"{upstream}/v1", port, free_port()))
        try:
            _wait(base, process)
            ids, virtual_key, usage = _requests(base)
        finally:
            out, err = _stop(process)
    return Session(out, err, ids, virtual_key, usage)


def test_every_stdout_line_is_one_json_object_and_each_request_has_one(session: Session) -> None:
    lines = session.lines()
    assert all(isinstance(entry, dict) for entry in lines)
    for request_id in session.ids.values():
        assert [entry["request_id"] for entry in lines].count(request_id) == 1


def test_a_good_request_names_the_key_model_provider_and_tokens(session: Session) -> None:
    line = session.line_of("chat")
    assert line["method"] == "POST"
    assert line["path"] == "/v1/chat/completions"
    assert line["status"] == 200
    assert line["key"] == "laptop"
    assert line["model"] == "fake/echo"
    assert line["provider"] == "fake"
    assert line["prompt_tokens"] > 0
    assert line["completion_tokens"] > 0
    assert line["outcome"] == "ok"
    assert line["cache_hit"] is False
    assert "error_type" not in line


def test_a_line_has_an_iso_utc_time_a_logger_and_a_duration(session: Session) -> None:
    line = session.line_of("chat")
    assert line["ts"].endswith("+00:00")
    assert line["logger"] == "securellm.access"
    assert line["level"] == "info"
    assert line["duration_ms"] > 0


def test_a_stream_is_logged_when_it_ends_with_its_real_tokens(session: Session) -> None:
    line = session.line_of("stream")
    assert line["stream"] is True
    assert line["outcome"] == "ok"
    assert session.stream_usage is not None
    assert line["prompt_tokens"] == session.stream_usage.prompt_tokens
    assert line["completion_tokens"] == session.stream_usage.completion_tokens


def test_an_unknown_route_is_logged_as_404_with_its_error(session: Session) -> None:
    line = session.line_of("mistaken")
    assert (line["method"], line["path"], line["status"]) == ("POST", "/messages", 404)
    assert line["error_code"] == "not_found"
    assert line["error"] == "no route for POST /messages"
    assert line["outcome"] == "refused"


def test_the_query_string_is_never_logged(session: Session) -> None:
    assert "session_token" not in session.stdout
    assert all("?" not in entry["path"] for entry in session.lines())
    assert QUERY_SECRET not in session.stdout + session.stderr


def test_a_wrong_key_is_logged_as_401_with_no_key_name(session: Session) -> None:
    line = session.line_of("wrong_key")
    assert line["status"] == 401
    assert line["key"] is None
    assert line["error_type"] == "authentication_error"
    assert line["error_code"] == "invalid_api_key"


def test_a_wrong_method_is_logged_as_405(session: Session) -> None:
    line = session.line_of("method")
    assert line["status"] == 405
    assert line["error_type"] == "invalid_request_error"


def test_no_key_appears_on_stdout_or_stderr(session: Session) -> None:
    output = session.stdout + session.stderr
    for secret in (MASTER, session.virtual_key, UPSTREAM_KEY, WRONG_KEY):
        assert secret not in output


def test_the_banner_on_stderr_lists_each_provider_and_its_reachability(session: Session) -> None:
    [fake] = [line for line in session.stderr.splitlines() if line.strip().startswith("fake ")]
    [down] = [line for line in session.stderr.splitlines() if line.strip().startswith("down ")]
    assert "openai-compatible" in fake
    assert "reachable (HTTP 200" in fake
    assert "vllm" in down
    assert "unreachable (connection refused)" in down


def test_the_banner_says_where_the_key_audit_trail_and_database_are(session: Session) -> None:
    assert "master key:   config file" in session.stderr
    assert "audit trail:" in session.stderr
    assert "database:     SQLite" in session.stderr
    assert "request log:  one JSON line per request on stdout" in session.stderr


def test_the_banner_is_not_on_stdout(session: Session) -> None:
    assert "securellm gateway" not in session.stdout


def test_log_level_warning_silences_the_request_lines(tmp_path: Path) -> None:
    fake = FakeOpenAI()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve_app(fake.app()) as upstream:
        config = _config(tmp_path, f"{upstream}/v1", port, free_port())
        process = _start(config, "--log-level", "warning")
        try:
            _wait(base, process)
            answered = httpx.post(f"{base}/messages", json={})
        finally:
            out, err = _stop(process)
    assert answered.status_code == 404
    assert out == ""
    assert "request log:  off (log level warning)" in err
