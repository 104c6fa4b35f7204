"""``knowledge_search`` and ``knowledge_save`` on 100,000 entries, today's index beside the last.

One run builds a 100,000-entry base (Zipf-distributed vocabulary, so the top words are in
most entries) with the previous schema (v2: ``unicode61``, bm25 in SQL, snippet per match),
copies it, upgrades the copy to the current schema (timed: the one-off reindex) and measures:

- baseline: the v2 search statement on the v2 base, in-process;
- store.search on the current base, in-process;
- ``knowledge_search`` and ``knowledge_save`` through the real server on stdio with the
  official SDK client (``python -m securellm.mcp``: JSON-RPC, validation, worker thread),
  both for this tree on the upgraded base and for the last v2 revision's code
  (``--baseline-rev``, taken from git with ``git archive``) on the v2 base.

Run: ``.venv/bin/python benchmarks/mcp_search.py [--entries 100000] [--baseline-rev REV]``.
Goals: search p50 < 10 ms, p95 < 30 ms over stdio; save p50 < 5 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
from mcp.client.stdio import StdioServerParameters

from mcp import Client
from securellm.mcp.knowledge.schema import MIGRATIONS, _statements
from securellm.mcp.knowledge.search import SearchQuery
from securellm.mcp.knowledge.store import KnowledgeStore, now_iso

# The last revision whose knowledge index is v2 (unicode61, bm25 and a snippet per match).
BASELINE_REV = "5bd72eb"
TYPES = ["note", "decision", "code", "error", "reference", "todo"]
# The v2 search statement, as it was: bm25 in SQL and a snippet for every match, then sorted.
V2_SEARCH = (
    "SELECT e.id, bm25(entries_fts, 4.0, 1.0, 2.0) AS score, "
    "snippet(entries_fts, 1, '[', ']', '…', 16) "
    "FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid "
    "WHERE entries_fts MATCH ? ORDER BY score LIMIT 11 OFFSET 0"
)


def vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)]


def populate_v2(path: Path, entries: int, words: list[str], rng: random.Random) -> None:
    """Bulk insert into a v2 base (one transaction); its FTS triggers index every row."""
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf word frequencies
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        for statement in _statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    stamp = now_iso()
    rows = []
    for n in range(entries):
        body = " ".join(rng.choices(words, weights, k=rng.randint(20, 80)))
        title = " ".join(rng.choices(words, weights, k=4))
        tags = f'["{rng.choice(words[:50])}"]'
        rows.append((rng.choice(TYPES), title, body, tags, "{}", stamp, stamp))
        if len(rows) == 10_000 or n == entries - 1:
            conn.executemany(
                "INSERT INTO entries (type, title, content, tags, metadata, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            rows.clear()
    conn.commit()
    conn.close()


def queries(words: list[str], rng: random.Random) -> list[str]:
    """The 20 most common words, mid-frequency and rare words, word pairs, and prefixes."""
    return (
        words[:20]
        + [rng.choice(words[100:2000]) for _ in range(60)]
        + [rng.choice(words[2000:]) for _ in range(60)]
        + [f"{rng.choice(words[:500])} {rng.choice(words[:500])}" for _ in range(50)]
        + [f"{rng.choice(words[:200])[:3]}*" for _ in range(10)]
    )


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    return f"{statistics.median(ms):8.2f} {p95:8.2f} {ms[-1]:8.2f}"


def measure(fn: Callable[[str], object], items: list[str]) -> list[float]:
    samples = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        samples.append(time.perf_counter() - started)
    return samples


def baseline_source(rev: str, into: Path) -> Path | None:
    """``src/`` of ``rev`` from this repository, for a server running the old code."""
    repo = Path(__file__).resolve().parent.parent
    archive = into / "baseline.tar"
    done = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", "-o", str(archive), rev, "src"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"no stdio baseline: git archive {rev} failed: {done.stderr.decode().strip()}")
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(into / "baseline", filter="data")
    return into / "baseline" / "src"


def server_params(path: Path, pythonpath: Path | None = None) -> StdioServerParameters:
    home = path.parent / f"home-{path.stem}"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_DATA_HOME": str(home / "data"),
        "KNOWLEDGE_DB_PATH": str(path),
    }
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return StdioServerParameters(command=sys.executable, args=["-m", "securellm.mcp"], env=env)


async def measure_stdio(
    path: Path, texts: list[str], saves: int, pythonpath: Path | None = None
) -> tuple[list[float], list[float]]:
    """Search every text, then save ``saves`` entries, over stdio; returns both samples."""
    search, save = [], []
    async with Client(server_params(path, pythonpath)) as client:
        await client.call_tool("knowledge_search", {"query": "warmup"})
        for text in texts:
            started = time.perf_counter()
            result = await client.call_tool("knowledge_search", {"query": text, "limit": 10})
            search.append(time.perf_counter() - started)
            assert not result.is_error, result.content
        for n in range(saves):
            arguments = {"content": f"benchmark note {n} about eviction", "tags": ["bench"]}
            started = time.perf_counter()
            result = await client.call_tool("knowledge_save", arguments)
            save.append(time.perf_counter() - started)
            assert not result.is_error, result.content
    return search, save


def v2_search(path: Path, texts: list[str]) -> list[float]:
    conn = sqlite3.connect(path)
    try:
        expressions = {t: " AND ".join(_v2_terms(t)) for t in texts}
        return measure(lambda t: conn.execute(V2_SEARCH, (expressions[t],)).fetchall(), texts)
    finally:
        conn.close()


def _v2_terms(text: str) -> list[str]:
    return [f'"{w.rstrip("*")}"' + ("*" if w.endswith("*") else "") for w in text.split()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    args = parser.parse_args()
    rng = random.Random(7)
    words = vocabulary(20_000, rng)
    tmp = Path(tempfile.mkdtemp())
    old, new = tmp / "v2.db", tmp / "knowledge.db"
    started = time.perf_counter()
    populate_v2(old, args.entries, words, rng)
    print(f"populated {args.entries} entries (v2 schema) in {time.perf_counter() - started:.1f}s")
    shutil.copy(old, new)
    store = KnowledgeStore(new)
    started = time.perf_counter()
    store.open()
    upgrade_s = time.perf_counter() - started
    print(f"upgraded a copy to the current schema (one-off reindex) in {upgrade_s:.1f}s")
    texts = queries(words, rng)
    baseline = v2_search(old, texts)
    current = measure(lambda t: store.search(SearchQuery(text=t, limit=10)), texts)
    store.close()
    stdio, saves = anyio.run(measure_stdio, new, texts, args.saves)
    old_code = baseline_source(args.baseline_rev, tmp)
    old_stdio = anyio.run(measure_stdio, old, texts, args.saves, old_code) if old_code else None
    print(f"{len(texts)} queries (20 commonest words, mid, rare, pairs, prefixes); ms")
    print(f"{'method':58} {'p50':>8} {'p95':>8} {'max':>8}")
    rows = [
        ("v2 (today): search statement, in-process", baseline),
        ("v2 (today): 20 commonest words only", baseline[:20]),
    ]
    if old_stdio is not None:
        rows += [
            (f"v2 ({args.baseline_rev}): knowledge_search over stdio", old_stdio[0]),
            (f"v2 ({args.baseline_rev}): over stdio, 20 commonest words only", old_stdio[0][:20]),
            (f"v2 ({args.baseline_rev}): knowledge_save over stdio", old_stdio[1]),
        ]
    rows += [
        ("current: store.search, in-process", current),
        ("current: knowledge_search over stdio (SDK client)", stdio),
        ("current: over stdio, 20 commonest words only", stdio[:20]),
        ("current: knowledge_save over stdio", saves),
    ]
    for label, samples in rows:
        print(f"{label:58} {percentiles(samples)}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
