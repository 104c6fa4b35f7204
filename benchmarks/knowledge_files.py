"""``securellm knowledge import/export`` at 100,000 Markdown files, beside today's only way in.

Writes N note files (each with an id, as an export writes them; Zipf-like words, tags, a
[[link]] in one of ten), then measures, in one
run: importing them into an empty base, importing them again (all unchanged), exporting the
base to a fresh folder, exporting again (all up to date), and the baseline: saving entries
into that same 100,000-entry base one ``KnowledgeStore.save`` (one transaction, what
``knowledge_save`` does) at a time, the only way in before import existed.
Run: ``.venv/bin/python benchmarks/knowledge_files.py [--files 100000] [--baseline 5000]``.
Goal: 100,000 files imported in under a minute.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from securellm.mcp.knowledge.files import export_dir, import_dir
from securellm.mcp.knowledge.store import KnowledgeStore, NewEntry


def words(rng: random.Random, vocabulary: list[str], weights: list[float], n: int) -> str:
    return " ".join(rng.choices(vocabulary, weights, k=n))


def write_files(folder: Path, count: int, rng: random.Random) -> list[tuple[str, str]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(4, 10))) for _ in range(20_000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    folder.mkdir()
    notes = []
    for i in range(count):
        title = f"note {i} {words(rng, vocabulary, weights, 3)}"
        body = words(rng, vocabulary, weights, rng.randint(20, 120))
        if i % 10 == 1:
            body += f" see [[note {i - 1}]]"
        tags = ", ".join(rng.sample(vocabulary[:50], 2))
        # as an export writes them (an id each); hand-written files without one cost one more
        # write each, the id written back
        uid = f"{rng.getrandbits(128):032x}"
        front = f"id: {uid}\ntitle: {title}\ntags: [{tags}]\nupdated: '2026-01-01T00:00:00Z'"
        (folder / f"n{i:06d}.md").write_text(f"---\n{front}\n---\n{body}\n")
        notes.append((title, body))
    return notes


def timed(label: str, count: int, fn: object) -> float:
    start = time.perf_counter()
    result = fn()  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {elapsed:8.2f} s  {count / elapsed:10,.0f} files/s   {result}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(17)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        notes = write_files(root / "in", args.files, rng)
        store = KnowledgeStore(root / "kb.db")
        store.open()

        def report(fn: object) -> object:
            r = fn()  # type: ignore[operator]
            return {k: v for k, v in r.model_dump().items() if k != "problems"}

        n = args.files
        print(f"{n:,} files; figure, then rate, then the outcome counts")
        imported = timed(
            "import (empty base)", n, lambda: report(lambda: import_dir(store, root / "in"))
        )
        timed(
            "import again (all unchanged)",
            n,
            lambda: report(lambda: import_dir(store, root / "in")),
        )
        timed("export (fresh folder)", n, lambda: report(lambda: export_dir(store, root / "out")))
        timed(
            "export again (all up to date)",
            n,
            lambda: report(lambda: export_dir(store, root / "out")),
        )
        sample = notes[: args.baseline]

        def one_by_one() -> str:
            for title, body in sample:
                store.save(NewEntry(type="note", content=body, title=title))
            return f"{len(sample):,} saves into the same base"

        per_save = timed("baseline: one save per entry (today)", len(sample), one_by_one)
        store.close()
        projected = per_save / len(sample) * n
        print(
            f"import of {n:,}: {imported:.1f} s; one save at a time would take ~{projected:.0f} s "
            f"({projected / imported:.1f}x); goal: under 60 s"
        )


if __name__ == "__main__":
    main()
