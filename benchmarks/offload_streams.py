"""offload: two streams on one model, per stream, next to one stream alone, in one run.

    .venv/bin/python benchmarks/offload_streams.py [--rounds 3] [--tokens 64]

Runs ``securellm offload`` with the bundled Gemma 3 270M (llama-cpp-python's server, one
slot: offload queues the second stream behind the first). Each round streams one completion
alone, then two at once, every one forced to ``--tokens`` tokens (end-of-text banned), and
reports per stream: tokens/s over the stream's whole time (queueing included) and over its
generation (first token to last), with the time to the first token, plus the two streams'
combined tokens/s. The baseline is the stream alone, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import free_port, process
from benchmarks.offload_config import write_offload_config

MODEL = "gemma-3-270m"
NO_END = {"1": -100.0, "106": -100.0}  # Gemma's <eos> and <end_of_turn>


@dataclass
class Stream:
    started: float
    first: float
    last: float
    tokens: int
    finish: str | None

    @property
    def whole_tps(self) -> float:
        return self.tokens / (self.last - self.started)

    @property
    def generation_tps(self) -> float:
        return (self.tokens - 1) / (self.last - self.first) if self.last > self.first else 0.0


def _config(root: Path, port: int) -> Path:
    return write_offload_config(root, port, [], default_ctx=1024)


async def stream(session: aiohttp.ClientSession, base: str, tokens: int) -> Stream:
    body = {"model": MODEL, "prompt": "Once upon a time", "max_tokens": tokens,
            "stream": True, "temperature": 0, "logit_bias": NO_END}  # fmt: skip
    started = time.perf_counter()
    first = last = 0.0
    count, finish = 0, None
    async with session.post(f"{base}/v1/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.content:
            if not line.startswith(b"data: {"):
                continue
            choice = json.loads(line[6:])["choices"][0]
            if choice.get("text"):
                last = time.perf_counter()
                first = first or last
                count += 1
            finish = choice.get("finish_reason") or finish
    return Stream(started, first, last, count, finish)


async def measure(base: str, rounds: int, tokens: int) -> tuple[list[Stream], list[Stream]]:
    alone: list[Stream] = []
    paired: list[Stream] = []
    async with aiohttp.ClientSession() as session:
        await stream(session, base, 4)  # load the model
        for _ in range(rounds):
            alone.append(await stream(session, base, tokens))
            pair = await asyncio.gather(
                stream(session, base, tokens), stream(session, base, tokens)
            )
            paired.extend(pair)
    return alone, paired


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _row(name: str, streams: list[list[Stream]], value: Callable[[Stream], float]) -> str:
    cells = "".join(f"{_median([value(x) for x in group]):>15.2f}" for group in streams)
    return f"{name:<24}{cells}"


def report(alone: list[Stream], paired: list[Stream], tokens: int) -> None:
    complete = all(s.tokens == tokens and s.finish == "length" for s in alone + paired)
    pairs = [
        sorted(pair, key=lambda x: x.first) for pair in zip(paired[::2], paired[1::2], strict=True)
    ]
    served_first = [a for a, _ in pairs]
    served_second = [b for _, b in pairs]
    groups = [alone, served_first, served_second]
    combined = [
        (a.tokens + b.tokens) / (max(a.last, b.last) - min(a.started, b.started)) for a, b in pairs
    ]
    print(f"{'median':<24}{'one alone':>15}{'2: 1st served':>15}{'2: 2nd served':>15}")
    print(_row("tokens/s, whole stream", groups, lambda x: x.whole_tps))
    print(_row("tokens/s, generating", groups, lambda x: x.generation_tps))
    print(_row("first token, s", groups, lambda x: x.first - x.started))
    print(f"{'combined tokens/s':<24}{_median([x.whole_tps for x in alone]):>15.2f}"
          f"{_median(combined):>15.2f}  (the pair's two streams together)")  # fmt: skip
    print(f"every stream ran to max_tokens={tokens} with finish_reason 'length': {complete}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="offload-streams-") as tmp:
        root = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "securellm", "offload", "--config", str(_config(root, port))]
        env = {k: v for k, v in os.environ.items() if k != "SECURELLM_CONFIG"}
        with (root / "offload.log").open("wb") as log, process(
            argv, base + "/health", stdout=log, stderr=log, env=env
        ):  # fmt: skip
            alone, paired = asyncio.run(measure(base, args.rounds, args.tokens))
    report(alone, paired, args.tokens)


if __name__ == "__main__":
    main()
