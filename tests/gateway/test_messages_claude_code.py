"""Claude Code's and Cline's Anthropic requests, with the official SDK, on every upstream kind.

A ``system`` entry inside ``messages``, an unknown ``anthropic-beta`` flag and a server
tool (``web_search_20250305``) get 200 from an OpenAI-chat upstream, the real local
model and an Anthropic upstream; toward the first two the server tool is dropped and
named in ``x-securellm-dropped-tools``, or refused with 400 when the config says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.claude_code import BASH, ENVIRONMENT, HEADERS, WEB_SEARCH, claude_code_body
from support.fake_anthropic import FakeAnthropic
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory, make_settings

DROPPED = "x-securellm-dropped-tools"
NO_RETRY: Any = {"retry": {"attempts": 1}}


@pytest.fixture(scope="module")
def fake_claude() -> Iterator[tuple[str, FakeAnthropic]]:
    fake = FakeAnthropic()
    with serve_app(fake.app()) as url:
        yield url, fake


def _providers(openai_url: str, claude_url: str) -> list[dict[str, Any]]:
    fake = {"name": "fake", "base_url": openai_url, "api_key": UPSTREAM_KEY, **NO_RETRY}
    claude = {
        "name": "claude",
        "kind": "anthropic",
        "base_url": claude_url,
        "api_key": UPSTREAM_KEY,
        "rpm": 100_000,
        **NO_RETRY,
    }
    return [fake, claude]


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: tuple[str, FakeOpenAI],
    fake_claude: tuple[str, FakeAnthropic],
) -> Iterator[str]:
    providers = _providers(fake_upstream[0], fake_claude[0])
    settings = make_settings(tmp_path_factory.mktemp("gw"), providers, cache={"enabled": False})
    with serve_app(create_app(settings)) as base:
        yield base


@pytest.fixture
def client(gateway: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway, api_key=MASTER, max_retries=0)


def sdk_arguments(model: str, body: dict[str, Any]) -> dict[str, Any]:
    """``messages.create`` arguments: fields the SDK does not type go in ``extra_body``."""
    rest = dict(body)
    return {
        "model": model,
        "max_tokens": rest.pop("max_tokens"),
        "messages": rest.pop("messages"),
        "extra_headers": HEADERS,
        "extra_body": rest,
        "timeout": 60,  # the SDK refuses 32k output tokens unstreamed without one
    }


def send(client: anthropic.Anthropic, model: str, **changes: Any) -> Any:
    """Claude Code's request through the SDK's raw response (status, headers and body)."""
    arguments = sdk_arguments(model, {**claude_code_body(), **changes})
    return client.messages.with_raw_response.create(**arguments)


def test_claude_code_request_gets_200_from_an_openai_upstream(
    client: anthropic.Anthropic,
) -> None:
    raw = send(client, "fake/echo")
    message = raw.parse()
    assert raw.status_code == 200
    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]


def test_system_entry_joins_the_leading_system_message(
    client: anthropic.Anthropic, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    send(client, "fake/echo")
    messages = fake_upstream[1].requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[0]["content"] == f"You are a coding agent.Be brief.\n\n{ENVIRONMENT}"


def test_dropped_server_tool_is_named_in_a_header(client: anthropic.Anthropic) -> None:
    raw = send(client, "fake/echo")
    assert raw.headers[DROPPED] == "web_search_20250305"


def test_only_client_tools_reach_an_openai_upstream(
    client: anthropic.Anthropic, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    send(client, "fake/echo")
    tools = fake_upstream[1].requests[-1].body["tools"]
    assert [t["function"]["name"] for t in tools] == ["Bash"]


def test_beta_flags_are_not_sent_to_an_openai_upstream(
    client: anthropic.Anthropic, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    send(client, "fake/echo")
    assert "anthropic-beta" not in fake_upstream[1].requests[-1].headers


def test_no_header_when_nothing_was_dropped(client: anthropic.Anthropic) -> None:
    raw = send(client, "fake/echo", tools=[BASH])
    assert DROPPED not in raw.headers


def test_tool_choice_naming_a_dropped_tool_becomes_auto(
    client: anthropic.Anthropic, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    send(client, "fake/echo", tool_choice={"type": "tool", "name": "web_search"})
    assert fake_upstream[1].requests[-1].body["tool_choice"] == "auto"


def test_tool_choice_goes_with_the_last_tool(
    client: anthropic.Anthropic, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    send(client, "fake/echo", tools=[WEB_SEARCH], tool_choice={"type": "any"})
    body = fake_upstream[1].requests[-1].body
    assert "tools" not in body and "tool_choice" not in body


def test_streamed_claude_code_request_names_the_dropped_tool(
    client: anthropic.Anthropic,
) -> None:
    arguments = sdk_arguments("fake/echo", claude_code_body())
    with client.messages.with_streaming_response.create(stream=True, **arguments) as raw:
        events = [line for line in raw.iter_lines() if line.startswith("event: ")]
        assert raw.headers[DROPPED] == "web_search_20250305"
    assert events[0] == "event: message_start"
    assert events[-1] == "event: message_stop"


def test_tool_use_from_an_openai_upstream_comes_back_as_tool_use(
    client: anthropic.Anthropic,
) -> None:
    message = send(client, "fake/tools").parse()
    assert message.stop_reason == "tool_use"
    assert {block.type for block in message.content} == {"tool_use"}


def test_claude_code_request_passes_unchanged_to_an_anthropic_upstream(
    client: anthropic.Anthropic, fake_claude: tuple[str, FakeAnthropic]
) -> None:
    raw = send(client, "claude/claude-echo")
    sent = fake_claude[1].requests[-1]
    expected = {**claude_code_body(), "model": "claude-echo"}
    assert raw.status_code == 200
    assert sent.body == expected
    assert sent.headers["anthropic-beta"] == HEADERS["anthropic-beta"]
    assert DROPPED not in raw.headers


def test_refuse_mode_is_400_naming_the_server_tool(
    gateway_for: GatewayFactory,
    fake_upstream: tuple[str, FakeOpenAI],
    fake_claude: tuple[str, FakeAnthropic],
) -> None:
    providers = _providers(fake_upstream[0], fake_claude[0])
    with gateway_for(providers, gateway={"server_tools": "refuse"}) as base:
        client = anthropic.Anthropic(base_url=base, api_key=MASTER, max_retries=0)
        with pytest.raises(anthropic.BadRequestError) as caught:
            send(client, "fake/echo")
    error = caught.value.body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    assert "web_search_20250305" in error["message"]
    assert "tools.1" in error["message"]


def test_refuse_mode_still_passes_server_tools_to_anthropic(
    gateway_for: GatewayFactory,
    fake_upstream: tuple[str, FakeOpenAI],
    fake_claude: tuple[str, FakeAnthropic],
) -> None:
    providers = _providers(fake_upstream[0], fake_claude[0])
    with gateway_for(providers, gateway={"server_tools": "refuse"}) as base:
        client = anthropic.Anthropic(base_url=base, api_key=MASTER, max_retries=0)
        raw = send(client, "claude/claude-echo")
    assert raw.status_code == 200
    assert fake_claude[1].requests[-1].body["tools"][1] == WEB_SEARCH


@pytest.mark.llama
def test_claude_code_request_gets_200_from_the_real_local_model(
    gateway_for: GatewayFactory, llama_url: str
) -> None:
    provider = {"name": "local", "kind": "llamacpp", "base_url": llama_url}
    with gateway_for([provider]) as base:
        client = anthropic.Anthropic(base_url=base, api_key=MASTER, max_retries=0)
        body = {**claude_code_body(max_tokens=16), "temperature": 0}
        arguments = sdk_arguments("local/gemma-3-270m", body)
        raw = client.messages.with_raw_response.create(**arguments)
    message = raw.parse()
    assert raw.status_code == 200
    assert raw.headers[DROPPED] == "web_search_20250305"
    assert message.usage.output_tokens > 0
