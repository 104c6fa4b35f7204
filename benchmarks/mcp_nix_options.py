"""Offline options search on a NixOS-sized options.json (synthetic, 20,000 options).

Side by side: the baseline reads the JSON and scans every option for the query words (what
a tool without an index does on each call), the index answers from SQLite FTS5
(:mod:`securellm.mcp.nix.localindex`), built once on first use (its cost is printed too).
Run: ``.venv/bin/python benchmarks/mcp_nix_options.py [--options 20000]``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.harness import table
from securellm.mcp.nix.localindex import LocalIndex
from securellm.mcp.nix.options import read_options

WORDS = [
    "enable",
    "package",
    "settings",
    "port",
    "user",
    "group",
    "extraConfig",
    "openFirewall",
    "dataDir",
    "listen",
    "address",
    "virtualHosts",
    "timeout",
    "interval",
    "backup",
    "certificate",
    "domain",
    "proxy",
    "cache",
    "log",
]
SERVICES = [f"svc{i}" for i in range(600)]


def synthetic(count: int, rng: random.Random) -> dict[str, object]:
    options: dict[str, object] = {}
    while len(options) < count:
        name = f"services.{rng.choice(SERVICES)}.{rng.choice(WORDS)}{rng.randrange(40)}"
        words = " ".join(rng.choices(WORDS + SERVICES[:50], k=25))
        options[name] = {
            "declarations": [f"nixos/modules/{name}.nix"],
            "default": {"_type": "literalExpression", "text": "false"},
            "description": f"Whether to {words}.",
            "loc": name.split("."),
            "readOnly": False,
            "type": "boolean",
        }
    return options


def scan(path: Path, query: str) -> list[str]:
    words = query.lower().split()
    data = json.loads(path.read_text())
    hits = [
        name
        for name, option in data.items()
        if all(w in (name + " " + option["description"]).lower() for w in words)
    ]
    return hits[:20]


def percentiles(samples: list[float]) -> tuple[str, str]:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{statistics.median(ordered) * 1000:.2f}", f"{p95 * 1000:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--options", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(17)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "options.json"
        path.write_text(json.dumps(synthetic(args.options, rng)))
        index = LocalIndex(Path(tmp) / "index.db")
        started = time.perf_counter()
        index.replace("nixos", path, read_options("nixos", path))
        build_s = time.perf_counter() - started
        queries = [
            " ".join(rng.sample([*WORDS, *SERVICES[:50]], k=rng.choice((1, 2))))
            for _ in range(args.queries)
        ]
        baseline, indexed = [], []
        for query in queries:
            started = time.perf_counter()
            scan(path, query)
            baseline.append(time.perf_counter() - started)
            started = time.perf_counter()
            index.search(query, ["nixos"], 20)
            indexed.append(time.perf_counter() - started)
    rows = [["method", "p50 ms", "p95 ms"]]
    rows.append(["baseline: read JSON + scan", *percentiles(baseline)])
    rows.append(["FTS5 index (after first use)", *percentiles(indexed)])
    print(f"{args.options} options, {args.queries} queries; index built in {build_s:.2f} s")
    print(table(rows))


if __name__ == "__main__":
    main()
