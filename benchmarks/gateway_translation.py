"""Translation cost: passthrough vs translated paths through the gateway, in one run.

    .venv/bin/python benchmarks/gateway_translation.py [--seconds 8] [--requests 1500]

Two fixed-response upstreams run side by side: the OpenAI-dialect one of
``benchmarks/fixed_upstream.py`` and the Anthropic-dialect one below. The gateway (one
process, ``--workers``) fronts both; the same OpenAI-SDK-shaped request goes to each:

- passthrough: OpenAI client -> gateway -> OpenAI upstream (bytes relayed)
- translated:  OpenAI client -> gateway -> Anthropic upstream (request and reply translated)
- reverse:     Anthropic client (/v1/messages) -> gateway -> OpenAI upstream

It also times the pure translation functions in this process (microseconds a request).
Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (
    MASTER,
    Latency,
    Throughput,
    asgi_app,
    fixed_upstream,
    gateway,
    latency,
    table,
    throughput,
)

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
CHAT = b'{"model":"%s","messages":[{"role":"user","content":"What is the capital of France?"}]}'
MESSAGES = (
    b'{"model":"bench/fixed","max_tokens":64,'
    b'"messages":[{"role":"user","content":"What is the capital of France?"}]}'
)
MESSAGE = orjson.dumps(
    {
        "id": "msg_fixed",
        "type": "message",
        "role": "assistant",
        "model": "fixed",
        "content": [{"type": "text", "text": "Paris."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 2},
    }
)
MODELS = b'{"data":[{"type":"model","id":"fixed","display_name":"fixed"}],"has_more":false}'


async def anthropic_app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    """A fixed-response Anthropic-dialect upstream (raw ASGI, like ``fixed_upstream``)."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    payload = MODELS if scope["method"] == "GET" else MESSAGE
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


@contextmanager
def fixed_anthropic() -> Iterator[str]:
    with asgi_app("benchmarks.gateway_translation:anthropic_app", "/v1/models") as root:
        yield root


def write_config(folder: Path, openai_url: str, anthropic_url: str, workers: int) -> Path:
    config = folder / "bench.toml"
    config.write_text(
        f'data_dir = "{folder}/data"\nlog_dir = "{folder}/log"\n\n'
        f'[gateway]\nworkers = {workers}\nmaster_key = "{MASTER}"\n'
        "limits_enabled = false\n\n"
        "[cache]\nenabled = false\n\n"
        f'[[providers]]\nname = "bench"\nbase_url = "{openai_url}"\nmodels = ["fixed"]\n\n'
        f'[[providers]]\nname = "claude"\nkind = "anthropic"\nbase_url = "{anthropic_url}"\n'
        'api_key = "sk-ant-bench"\nmodels = ["fixed"]\n'
    )
    return config


def pure_translation_us(rounds: int) -> tuple[float, float]:
    """Microseconds per request for the pure functions: OpenAI->Anthropic and back, and reverse."""
    from securellm.providers.translate.from_anthropic import completion_to_message, messages_to_chat
    from securellm.providers.translate.to_anthropic import chat_to_messages, message_to_completion

    chat = {"model": "claude/fixed", "messages": QUESTION}
    started = time.perf_counter()
    for _ in range(rounds):
        orjson.dumps(chat_to_messages(chat, "fixed"))
        orjson.dumps(message_to_completion(orjson.loads(MESSAGE), "fixed"))
    forward = (time.perf_counter() - started) / rounds * 1e6
    anthropic_body = orjson.loads(MESSAGES)
    completion = {"choices": [{"message": {"content": "Paris."}, "finish_reason": "stop"}]}
    started = time.perf_counter()
    for _ in range(rounds):
        orjson.dumps(messages_to_chat(anthropic_body, "fixed"))
        orjson.dumps(completion_to_message(completion, "fixed"))
    return forward, (time.perf_counter() - started) / rounds * 1e6


def row(label: str, lat: Latency, tp: Throughput) -> tuple[str, ...]:
    return (
        label,
        f"{lat.p50_ms:.3f}",
        f"{lat.p99_ms:.3f}",
        f"{tp.requests_per_s:.0f}",
        str(tp.errors),
    )


def measure(
    openai_url: str, anthropic_url: str, args: argparse.Namespace
) -> list[tuple[str, Latency, Throughput]]:
    auth = {"Authorization": f"Bearer {MASTER}"}
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), openai_url, anthropic_url, args.workers)
        with gateway(config) as (base, _):
            cases = [
                ("passthrough (OpenAI -> OpenAI)", "/v1/chat/completions", CHAT % b"bench/fixed"),
                (
                    "translated (OpenAI -> Anthropic)",
                    "/v1/chat/completions",
                    CHAT % b"claude/fixed",
                ),
                ("reverse (Anthropic -> OpenAI)", "/v1/messages", MESSAGES),
            ]
            results = []
            for label, path, body in cases:
                lat = latency(base + path, body, auth, args.requests)
                tp = throughput(base + path, body, auth, 32, args.seconds)
                results.append((label, lat, tp))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    forward_us, reverse_us = pure_translation_us(20_000)
    with fixed_upstream() as openai_url, fixed_anthropic() as anthropic_url:
        results = measure(openai_url, anthropic_url, args)
    rows = [("path", "p50 ms (1 conn)", "p99 ms (1 conn)", "req/s (32 conns)", "non-2xx")]
    rows += [row(label, lat, tp) for label, lat, tp in results]
    print(table(rows))
    base_lat = results[0][1]
    for label, lat, _ in results[1:]:
        print(f"{label}: p50 {lat.p50_ms - base_lat.p50_ms:+.3f} ms vs passthrough")
    print(
        f"pure translation per request (request + reply): OpenAI->Anthropic {forward_us:.1f} us, "
        f"Anthropic->OpenAI {reverse_us:.1f} us"
    )


if __name__ == "__main__":
    main()
