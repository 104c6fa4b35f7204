"""Ollama's ``keep_alive`` reaches offload (see test_offload_hosts.py) and Ollama, no one else."""

from __future__ import annotations

import openai

from support.fake_openai import FakeOpenAI
from support.gateway import MASTER

ASK = [{"role": "user", "content": "hi"}]


def test_an_openai_compatible_upstream_never_gets_keep_alive(
    fake_gateway: str, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    _, fake = fake_upstream
    client = openai.OpenAI(base_url=f"{fake_gateway}/v1", api_key=MASTER, max_retries=0)
    reply = client.chat.completions.create(
        model="fake/echo", messages=ASK, extra_body={"keep_alive": "5m", "seed": 7}
    )
    assert reply.choices
    sent = fake.requests[-1].body
    assert "keep_alive" not in sent
    assert sent["seed"] == 7
