"""The request edge: streams end truthfully, and the last event waits for the audit record."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import orjson
import pytest
from starlette.requests import ClientDisconnect

from securellm.core.config import ProviderSettings
from securellm.gateway.app import create_app
from securellm.gateway.context import RequestContext
from securellm.gateway.service import relay, to_response
from securellm.providers.base import Call, Provider, UpstreamResponse
from securellm.providers.registry import build_provider
from support.asgi_server import serve_app
from support.faulty_upstream import FaultyUpstream
from support.gateway import MASTER, GatewayFactory, make_settings

AUTH = {"authorization": f"Bearer {MASTER}"}
ASK = [{"role": "user", "content": "hi"}]
DONE = b"data: [DONE]\n\n"
LONG: Any = [{"role": "user", "content": "word " * 3000}]  # past the local model's 2048 tokens


@pytest.fixture(scope="module")
def faulty() -> Iterator[tuple[str, FaultyUpstream]]:
    upstream = FaultyUpstream()
    with serve_app(upstream.app()) as url:
        yield f"{url}/v1", upstream


@pytest.fixture
def cut_gateway(gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream]) -> Iterator[str]:
    """A gateway before the faulty upstream, whose next stream for ``echo`` just stops."""
    url, upstream = faulty
    upstream.script("echo", ["cut"])
    with gateway_for([{"name": "up", "base_url": url}]) as base:
        yield base


def records(tmp_path: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in (tmp_path / "log" / "audit").glob("audit-*.jsonl"):
        for line in path.read_bytes().splitlines():
            record = orjson.loads(line)
            found[record["request_id"]] = record
    return found


def stream(base: str, path: str, body: dict[str, Any]) -> tuple[bytes, str]:
    with httpx.stream("POST", f"{base}{path}", json=body, headers=AUTH, timeout=120) as response:
        assert response.status_code == 200
        return response.read(), response.headers["x-request-id"]


def openai_events(raw: bytes) -> list[Any]:
    return [
        b"[DONE]" if block == b"data: [DONE]" else orjson.loads(block.removeprefix(b"data: "))
        for block in raw.strip().split(b"\n\n")
    ]


def test_an_openai_stream_the_upstream_just_stops_ends_with_an_error_then_done(
    cut_gateway: str, tmp_path: Path
) -> None:
    body = {"model": "up/echo", "messages": ASK, "stream": True}
    raw, request_id = stream(cut_gateway, "/v1/chat/completions", body)
    events = openai_events(raw)
    assert [e["choices"][0]["delta"]["content"] for e in events[:2]] == ["part0 ", "part1 "]
    assert events[2]["error"]["message"].startswith("provider 'up': the upstream ended")
    assert events[3:] == [b"[DONE]"]
    record = records(tmp_path)[request_id]
    assert (record["status"], record["outcome"]) == (200, "incomplete")
    assert record["event_type"] == "request.incomplete"


def test_an_anthropic_stream_the_upstream_just_stops_ends_with_an_error_event(
    cut_gateway: str, tmp_path: Path
) -> None:
    body = {"model": "up/echo", "max_tokens": 16, "messages": ASK, "stream": True}
    raw, request_id = stream(cut_gateway, "/v1/messages", body)
    last = raw.strip().split(b"\n\n")[-1]
    assert last.startswith(b"event: error\ndata: ")
    error = orjson.loads(last.split(b"data: ", 1)[1])
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    assert b"message_stop" not in raw
    assert records(tmp_path)[request_id]["outcome"] == "incomplete"


def test_an_incomplete_stream_is_counted_in_the_metrics(cut_gateway: str) -> None:
    stream(
        cut_gateway, "/v1/chat/completions", {"model": "up/echo", "messages": ASK, "stream": True}
    )
    text = httpx.get(f"{cut_gateway}/metrics", headers=AUTH).text
    counted = [
        line for line in text.splitlines()
        if line.startswith("securellm_requests_total{") and 'outcome="incomplete"' in line
    ]  # fmt: skip
    assert counted and counted[0].endswith(" 1.0")


def test_a_whole_stream_ends_with_done_and_outcome_ok(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream], tmp_path: Path
) -> None:
    with gateway_for([{"name": "up", "base_url": faulty[0]}]) as base:
        raw, request_id = stream(
            base, "/v1/chat/completions", {"model": "up/echo", "messages": ASK, "stream": True}
        )
    assert raw.endswith(b"}\n\n" + DONE) and b'"error"' not in raw
    assert records(tmp_path)[request_id]["outcome"] == "ok"


class ScriptedProvider(Provider):
    """A provider whose chat stream is the given events, then whatever ``end`` does."""

    def __init__(self, settings: ProviderSettings, end: str) -> None:
        super().__init__(settings)
        self.end = end

    async def chat(self, call: Call) -> UpstreamResponse:
        result = UpstreamResponse(media_type="text/event-stream")
        result.stream = self._events(result)
        return result

    async def _events(self, result: UpstreamResponse) -> AsyncIterator[bytes]:
        yield b'data: {"choices":[{"index":0,"delta":{"content":"one"}}]}\n\n'
        if self.end == "raise":
            raise RuntimeError("a bug in the provider")
        result.failure = "provider 'scripted' sent an error mid-stream: overloaded"
        yield b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n'
        yield DONE


@pytest.fixture
def scripted(tmp_path: Path) -> Any:
    def run(end: str) -> Any:
        def factory(settings: ProviderSettings) -> Provider:
            if settings.name == "scripted":
                return ScriptedProvider(settings, end)
            return build_provider(settings)

        provider = {"name": "scripted", "base_url": "http://127.0.0.1:9/v1", "models": ["m"]}
        app = create_app(make_settings(tmp_path, [provider]), provider_factory=factory)
        return serve_app(app)

    return run


def test_a_provider_stream_that_raises_ends_with_an_error_event_and_outcome_failed(
    scripted: Any, tmp_path: Path
) -> None:
    with scripted("raise") as base:
        raw, request_id = stream(
            base, "/v1/chat/completions", {"model": "scripted/m", "messages": ASK, "stream": True}
        )
    events = openai_events(raw)
    assert events[0]["choices"][0]["delta"]["content"] == "one"
    assert "failed" in events[1]["error"]["message"] and events[2:] == [b"[DONE]"]
    record = records(tmp_path)[request_id]
    assert (record["outcome"], record["error"]) == ("failed", "the provider's stream failed")


def test_a_stream_the_provider_ended_with_its_own_error_gets_no_second_one(
    scripted: Any, tmp_path: Path
) -> None:
    with scripted("error") as base:
        raw, request_id = stream(
            base, "/v1/chat/completions", {"model": "scripted/m", "messages": ASK, "stream": True}
        )
    assert raw.count(b'"error"') == 1 and raw.endswith(DONE) and raw.count(DONE) == 1
    record = records(tmp_path)[request_id]
    assert record["outcome"] == "failed" and "overloaded" in record["error"]


class HeldState:
    """Just what ``relay`` uses of the gateway state; its audit write ends when told."""

    def __init__(self) -> None:
        self.in_flight = 1
        self.write: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.finished: list[RequestContext] = []

    def finish(self, ctx: RequestContext) -> list[asyncio.Future[None]]:
        self.finished.append(ctx)
        return [self.write]


async def _chunks(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_the_terminal_event_waits_for_the_audit_record() -> None:
    content = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
    upstream = UpstreamResponse(stream=_chunks(content, DONE), complete=True)
    state = HeldState()
    forwarded = relay(RequestContext(endpoint="chat"), state, upstream)  # type: ignore[arg-type]
    assert await anext(forwarded) == content
    last = asyncio.ensure_future(anext(forwarded))
    await asyncio.sleep(0.05)
    assert not last.done() and len(state.finished) == 1
    state.write.set_result(None)
    assert await last == DONE


async def test_text_that_quotes_the_done_line_is_not_held_back() -> None:
    quoted = b'data: {"choices":[{"index":0,"delta":{"content":"data: [DONE]\\n"}}]}\n\n'
    upstream = UpstreamResponse(stream=_chunks(quoted, DONE), complete=True)
    state = HeldState()
    forwarded = relay(RequestContext(endpoint="chat"), state, upstream)  # type: ignore[arg-type]
    assert await asyncio.wait_for(anext(forwarded), 5) == quoted
    state.write.set_result(None)
    assert [chunk async for chunk in forwarded] == [DONE]


async def test_an_anthropic_message_stop_waits_for_the_audit_record() -> None:
    stop = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    upstream = UpstreamResponse(stream=_chunks(stop), complete=True)
    state = HeldState()
    ctx = RequestContext(endpoint="messages", dialect="anthropic")
    forwarded = relay(ctx, state, upstream)  # type: ignore[arg-type]
    last = asyncio.ensure_future(anext(forwarded))
    await asyncio.sleep(0.05)
    assert not last.done()
    state.write.set_result(None)
    assert await last == stop


class DoneState(HeldState):
    """``HeldState`` whose audit write is already done."""

    def __init__(self) -> None:
        super().__init__()
        self.write.set_result(None)


async def _gone() -> dict[str, Any]:
    return {"type": "http.disconnect"}


async def test_a_client_gone_before_the_stream_began_still_gets_its_record() -> None:
    # Under ASGI 2.4 a server's send raises once the client has left, so Starlette never
    # starts the body iterator: its own ``finally`` cannot record the request.
    started: list[bool] = []

    async def upstream_events() -> AsyncIterator[bytes]:
        started.append(True)
        yield DONE

    state = DoneState()
    upstream = UpstreamResponse(stream=upstream_events(), complete=True)
    response = to_response(RequestContext(endpoint="chat"), state, upstream)  # type: ignore[arg-type]

    async def send(_message: Any) -> None:
        raise OSError("the client is gone")

    scope = {"type": "http", "headers": [], "asgi": {"spec_version": "2.4"}}
    with pytest.raises(ClientDisconnect):
        await response(scope, _gone, send)
    assert not started
    assert [(c.outcome, c.error) for c in state.finished] == [
        ("client_gone", "client disconnected before the stream")
    ]
    assert state.in_flight == 0


async def test_a_client_gone_mid_stream_is_settled_when_the_response_ends() -> None:
    content = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
    never = asyncio.Event()

    async def upstream_events() -> AsyncIterator[bytes]:
        yield content
        await never.wait()
        yield DONE

    state = DoneState()
    upstream = UpstreamResponse(stream=upstream_events(), complete=True)
    response = to_response(RequestContext(endpoint="chat"), state, upstream)  # type: ignore[arg-type]
    body_sent = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await body_sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        if message.get("body"):
            body_sent.set()
            await asyncio.sleep(3600)  # the client stopped reading

    await response({"type": "http", "headers": []}, receive, send)
    assert [(c.outcome, c.error) for c in state.finished] == [
        ("client_gone", "client disconnected mid-stream")
    ]
    assert state.in_flight == 0


@pytest.fixture
def llama_gateway(gateway_for: GatewayFactory, llama_url: str) -> Iterator[str]:
    """The real local model, with the gateway told its context is far larger than it is, so
    the prompt reaches the server and the server ends the stream (a limit the gateway does not
    know, as with a server that reports none)."""
    wrong_limit = {"model_context": {"local/*": {"context": 1_000_000}}}
    provider = {"name": "local", "kind": "llamacpp", "base_url": llama_url}
    with gateway_for([provider], gateway=wrong_limit) as base:
        yield base


@pytest.mark.llama
def test_a_stream_past_the_local_models_context_ends_with_an_error_then_done(
    llama_gateway: str, tmp_path: Path
) -> None:
    body = {"model": "local/gemma-3-270m", "messages": LONG, "stream": True, "max_tokens": 8}
    raw, request_id = stream(llama_gateway, "/v1/chat/completions", body)
    events = openai_events(raw)
    assert "error" in events[-2] and events[-1] == b"[DONE]"
    assert records(tmp_path)[request_id]["outcome"] == "incomplete"


@pytest.mark.llama
def test_the_openai_sdk_raises_on_a_stream_past_the_context(llama_gateway: str) -> None:
    client = openai.OpenAI(base_url=f"{llama_gateway}/v1", api_key=MASTER, max_retries=0)
    chunks = client.chat.completions.create(
        model="local/gemma-3-270m",
        messages=LONG,
        stream=True,
        max_tokens=8,  # type: ignore[arg-type]
    )
    with pytest.raises(openai.APIError, match="ended the stream before its last event"):
        list(chunks)


@pytest.mark.llama
def test_the_anthropic_sdk_raises_on_a_stream_past_the_context(llama_gateway: str) -> None:
    client = anthropic.Anthropic(base_url=llama_gateway, api_key=MASTER, max_retries=0)
    events = client.messages.stream(
        model="local/gemma-3-270m",
        max_tokens=8,
        messages=LONG,
    )
    expected = pytest.raises(anthropic.APIStatusError, match="ended the stream before its last")
    with expected, events as received:
        list(received)


def test_a_client_that_leaves_mid_stream_gets_one_client_gone_record(
    gateway_for: GatewayFactory, faulty: tuple[str, FaultyUpstream], tmp_path: Path
) -> None:
    body = {"model": "up/slow-stream", "messages": ASK, "stream": True}
    with gateway_for([{"name": "up", "base_url": faulty[0]}]) as base:
        with httpx.stream(
            "POST", f"{base}/v1/chat/completions", json=body, headers=AUTH
        ) as response:
            request_id = response.headers["x-request-id"]
            next(response.iter_bytes())
        deadline = time.monotonic() + 10
        while request_id not in records(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
    record = records(tmp_path)[request_id]
    assert (record["outcome"], record["error"]) == ("client_gone", "client disconnected mid-stream")
