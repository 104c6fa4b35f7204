"""Stored turns continue on every kind of upstream and database: an Anthropic upstream gets
the earlier turns as Messages, and gateways on one PostgreSQL share a key's responses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.fake_anthropic import FakeAnthropic
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, make_settings
from support.postgres_server import postgres_server


@pytest.fixture(scope="module")
def anthropic_upstream() -> Iterator[tuple[str, FakeAnthropic]]:
    upstream = FakeAnthropic()
    with serve_app(upstream.app()) as url:
        yield url, upstream


def test_an_anthropic_upstream_receives_the_earlier_turns(
    tmp_path: Path, anthropic_upstream: tuple[str, FakeAnthropic]
) -> None:
    url, upstream = anthropic_upstream
    provider = {"name": "claude", "kind": "anthropic", "base_url": url, "api_key": UPSTREAM_KEY}
    with serve_app(create_app(make_settings(tmp_path, [provider]))) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)
        first = client.responses.create(model="claude/claude-echo", input="my name is Ada")
        client.responses.create(
            model="claude/claude-echo", input="what is it", previous_response_id=first.id
        )
    messages = upstream.requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert "my name is Ada" in str(messages[0]["content"])
    assert "what is it" in str(messages[2]["content"])


@pytest.mark.postgres
def test_gateways_sharing_postgresql_continue_each_others_responses(
    tmp_path: Path, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    url, upstream = fake_upstream
    provider = {"name": "fake", "base_url": url, "api_key": UPSTREAM_KEY}
    with postgres_server() as database_url:
        options = {"gateway": {"database_url": database_url}, "cache": {"enabled": False}}
        one = create_app(make_settings(tmp_path / "one", [provider], **options))
        two = create_app(make_settings(tmp_path / "two", [provider], **options))
        with serve_app(one) as base_one, serve_app(two) as base_two:
            created = httpx.post(
                f"{base_one}/admin/keys",
                json={"name": "ide"},
                headers={"authorization": f"Bearer {MASTER}"},
            ).json()["key"]
            a = openai.OpenAI(base_url=f"{base_one}/v1", api_key=created, max_retries=0)
            b = openai.OpenAI(base_url=f"{base_two}/v1", api_key=created, max_retries=0)
            first = a.responses.create(model="fake/echo", input="my name is Ada")
            b.responses.create(model="fake/echo", input="what is it", previous_response_id=first.id)
            fetched = b.responses.retrieve(first.id)
            master = openai.OpenAI(base_url=f"{base_two}/v1", api_key=MASTER, max_retries=0)
            with pytest.raises(openai.NotFoundError):
                master.responses.retrieve(first.id)
    roles = [m["role"] for m in upstream.requests[-1].body["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert fetched.output_text == "my name is Ada"
