"""Stored responses through the official OpenAI SDK: ``previous_response_id``,
``responses.retrieve``, ``responses.input_items.list``, ``responses.delete``, per key, with
OpenAI's error shape for every id the caller cannot see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory

ADMIN = {"authorization": f"Bearer {MASTER}"}


@pytest.fixture
def upstream(fake_upstream: tuple[str, FakeOpenAI]) -> FakeOpenAI:
    fake_upstream[1].requests.clear()
    return fake_upstream[1]


@pytest.fixture
def base(gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]) -> Iterator[str]:
    provider = {"name": "fake", "base_url": fake_upstream[0], "api_key": UPSTREAM_KEY}
    with gateway_for([provider], cache={"enabled": False}) as url:
        yield url


def sdk(base: str, key: str = MASTER) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)


@pytest.fixture
def client(base: str) -> openai.OpenAI:
    return sdk(base)


@pytest.fixture
def other(base: str) -> openai.OpenAI:
    """The SDK with a second, virtual key."""
    created = httpx.post(f"{base}/admin/keys", json={"name": "other"}, headers=ADMIN)
    return sdk(base, created.json()["key"])


def chat_messages(upstream: FakeOpenAI) -> list[Any]:
    return [(m["role"], m["content"]) for m in upstream.requests[-1].body["messages"]]


def test_previous_response_id_sends_the_earlier_turns_upstream(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    first = client.responses.create(model="fake/echo", input="my name is Ada")
    client.responses.create(model="fake/echo", input="what is it", previous_response_id=first.id)
    assert chat_messages(upstream) == [
        ("user", "my name is Ada"),
        ("assistant", "my name is Ada"),
        ("user", "what is it"),
    ]


def test_a_chain_of_three_turns_carries_both_earlier_ones(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    one = client.responses.create(model="fake/echo", input="one")
    two = client.responses.create(model="fake/echo", input="two", previous_response_id=one.id)
    client.responses.create(model="fake/echo", input="three", previous_response_id=two.id)
    assert [text for role, text in chat_messages(upstream) if role == "user"] == [
        "one",
        "two",
        "three",
    ]


def test_retrieve_returns_the_stored_response(client: openai.OpenAI) -> None:
    created = client.responses.create(model="fake/echo", input="hello there")
    fetched = client.responses.retrieve(created.id)
    assert (fetched.id, fetched.output_text) == (created.id, "hello there")


def test_input_items_lists_the_request_items_in_openai_shape(client: openai.OpenAI) -> None:
    created = client.responses.create(model="fake/echo", input="hello there")
    page = client.responses.input_items.list(created.id)
    item = page.data[0]
    assert len(page.data) == 1 and page.has_more is False
    assert item.type == "message" and item.role == "user"  # type: ignore[union-attr]
    assert item.content[0].text == "hello there"  # type: ignore[union-attr]
    assert page.first_id == page.last_id == item.id


def test_input_items_pages_with_limit_and_after(client: openai.OpenAI) -> None:
    words = [{"role": "user", "content": w} for w in ("a", "b", "c")]
    created = client.responses.create(model="fake/echo", input=words)  # type: ignore[arg-type]
    first = client.responses.input_items.list(created.id, limit=2, order="asc")
    rest = client.responses.input_items.list(created.id, limit=2, order="asc", after=first.last_id)
    texts = [i.content[0].text for i in [*first.data, *rest.data]]  # type: ignore[union-attr]
    assert texts == ["a", "b", "c"]
    assert (first.has_more, rest.has_more) == (True, False)


def test_input_items_newest_first_by_default(client: openai.OpenAI) -> None:
    words = [{"role": "user", "content": w} for w in ("a", "b")]
    created = client.responses.create(model="fake/echo", input=words)  # type: ignore[arg-type]
    page = client.responses.input_items.list(created.id)
    assert [i.content[0].text for i in page.data] == ["b", "a"]  # type: ignore[union-attr]


def test_delete_removes_the_response(client: openai.OpenAI, base: str) -> None:
    created = client.responses.create(model="fake/echo", input="hello there")
    answer = httpx.delete(f"{base}/v1/responses/{created.id}", headers=ADMIN)
    assert answer.json() == {"id": created.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_the_sdk_deletes_a_response(client: openai.OpenAI) -> None:
    created = client.responses.create(model="fake/echo", input="hello there")
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_store_false_keeps_nothing(client: openai.OpenAI) -> None:
    created = client.responses.create(model="fake/echo", input="secret", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="fake/echo", input="x", previous_response_id=created.id)


def test_unknown_previous_response_id_is_a_404_naming_the_parameter(
    client: openai.OpenAI,
) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.responses.create(model="fake/echo", input="x", previous_response_id="resp_nope")
    assert raised.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_another_key_cannot_retrieve_continue_list_or_delete(
    client: openai.OpenAI, other: openai.OpenAI
) -> None:
    created = client.responses.create(model="fake/echo", input="mine")
    calls = [
        lambda: other.responses.retrieve(created.id),
        lambda: other.responses.input_items.list(created.id),
        lambda: other.responses.delete(created.id),
        lambda: other.responses.create(
            model="fake/echo", input="x", previous_response_id=created.id
        ),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError):
            call()
    assert client.responses.retrieve(created.id).id == created.id


def test_a_virtual_key_reads_its_own_responses(other: openai.OpenAI) -> None:
    created = other.responses.create(model="fake/echo", input="hello there")
    assert other.responses.retrieve(created.id).output_text == "hello there"


@pytest.mark.parametrize("bad_id", ["resp_unknown", "x" * 500, "resp_%00nul", "%E2%80%AE"])
def test_an_id_no_response_has_is_a_404_in_openai_shape(base: str, bad_id: str) -> None:
    for method in ("GET", "DELETE"):
        answer = httpx.request(method, f"{base}/v1/responses/{bad_id}", headers=ADMIN)
        assert answer.status_code == 404
        assert answer.json()["error"]["type"] == "invalid_request_error"
    items = httpx.get(f"{base}/v1/responses/{bad_id}/input_items", headers=ADMIN)
    assert items.status_code == 404


@pytest.mark.parametrize(
    ("query", "param"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"),
     ("order=up", "order"), ("after=msg_unknown", "after")],
)  # fmt: skip
def test_a_bad_list_parameter_is_a_400_naming_it(
    client: openai.OpenAI, base: str, query: str, param: str
) -> None:
    created = client.responses.create(model="fake/echo", input="hello there")
    url = f"{base}/v1/responses/{created.id}/input_items?{query}"
    answer = httpx.get(url, headers=ADMIN)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param


def test_the_routes_need_a_key(client: openai.OpenAI, base: str) -> None:
    created = client.responses.create(model="fake/echo", input="hello there")
    answer = httpx.get(f"{base}/v1/responses/{created.id}")
    assert answer.status_code == 401


def test_a_streamed_response_is_stored_when_it_completes(client: openai.OpenAI) -> None:
    with client.responses.stream(model="fake/echo", input="hello there") as stream:
        final = stream.get_final_response()
    stored = client.responses.retrieve(final.id)
    assert stored.output_text == final.output_text and "hello there" in stored.output_text
