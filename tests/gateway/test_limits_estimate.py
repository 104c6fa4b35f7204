"""Bounds for budgets: the most prompt tokens a body can be, and the output it asks for."""

from __future__ import annotations

from typing import Any

from securellm.gateway.limits import estimate
from securellm.gateway.limits.estimate import (
    MEDIA_TOKENS,
    REQUEST_TOKENS,
    TOOLS_TOKENS,
    OutputLimit,
    output_limit,
    prompt_token_bound,
)


def test_prompt_bound_counts_every_utf8_byte_of_text_and_keys() -> None:
    body = {"messages": [{"role": "user", "content": "olá"}]}
    text = len("role") + len("user") + len("content") + len("olá".encode())
    assert prompt_token_bound(body) == REQUEST_TOKENS + text


def test_prompt_bound_is_never_below_the_rate_limit_estimate() -> None:
    body = {"system": "be brief", "messages": [{"role": "user", "content": "x" * 4000}]}
    assert prompt_token_bound(body) >= estimate.prompt_tokens(body)


def test_prompt_bound_counts_an_image_as_a_fixed_allowance_not_its_bytes() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 99_999}}
    body: dict[str, Any] = {"messages": [{"role": "user", "content": [image]}]}
    without = {"messages": [{"role": "user", "content": []}]}
    assert prompt_token_bound(body) == prompt_token_bound(without) + MEDIA_TOKENS


def test_prompt_bound_adds_the_providers_tool_instructions() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    plain = {"messages": []}
    assert prompt_token_bound({**plain, "tools": tools}) > TOOLS_TOKENS + prompt_token_bound(plain)


def test_prompt_bound_walks_deep_bodies_without_recursion() -> None:
    nested: Any = "leaf"
    for _ in range(5_000):
        nested = [nested]
    assert prompt_token_bound({"input": nested}) == REQUEST_TOKENS + 4


def test_output_limit_reads_each_dialects_field() -> None:
    assert output_limit({"max_completion_tokens": 7}, "chat") == OutputLimit(7)
    assert output_limit({"max_tokens": 9}, "messages") == OutputLimit(9)
    assert output_limit({"max_output_tokens": 11}, "responses") == OutputLimit(11)


def test_output_limit_is_none_when_the_request_sets_none() -> None:
    assert output_limit({"max_tokens": 0}, "chat") == OutputLimit(None)


def test_output_limit_multiplies_by_the_completions_asked_for() -> None:
    assert output_limit({"max_tokens": 5, "n": 2, "best_of": 3}, "completions") == OutputLimit(5, 3)


def test_embeddings_write_no_output() -> None:
    assert output_limit({"input": "x"}, "embeddings") == OutputLimit(0)


def test_responses_instructions_and_input_count_as_prompt() -> None:
    bare = {"model": "m", "input": "hi"}
    instructed = {**bare, "instructions": "x" * 400}
    assert prompt_token_bound(instructed) == prompt_token_bound(bare) + 400
    assert estimate.prompt_tokens(instructed) == estimate.prompt_tokens(bare) + 100


def test_responses_output_limit_is_max_output_tokens() -> None:
    assert output_limit({"max_output_tokens": 64}, "responses") == OutputLimit(64)
