"""Our Nix parser against `nix-instantiate --parse` on every .nix file under DIR.

Prints each disagreement (files we reject that Nix accepts: our bug; files Nix rejects that
we accept: we miss an error, often an undefined variable, which Nix checks while parsing and
tree-sitter cannot), then the counts and the time each side took. Exit status 1 when there is
a disagreement, 2 when nix-instantiate is not on PATH.

    .venv/bin/python benchmarks/nix_parse_conformance.py DIR [--workers N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from securellm.nixaudit.nixcheck import NixVerdict, find_nix, isolated_env, nix_verdicts
from securellm.nixaudit.parser import parse_source


def ours(files: list[Path]) -> dict[Path, tuple[int, str] | None]:
    return {path: parse_source(path.read_bytes(), str(path)).parse_error for path in files}


def disagreements(
    files: list[Path],
    mine: dict[Path, tuple[int, str] | None],
    theirs: dict[Path, NixVerdict],
) -> tuple[list[str], list[str], list[str]]:
    """(we reject, Nix accepts), (Nix rejects, we accept), (Nix could not say)."""
    we_reject, nix_rejects, unknown = [], [], []
    for path in files:
        error, verdict = mine[path], theirs[path]
        if verdict.accepted is None:
            unknown.append(f"{path}: nix gave no verdict ({verdict.error})")
        elif verdict.accepted and error is not None:
            we_reject.append(f"{path}:{error[0]}: we reject ({error[1]}); nix accepts")
        elif not verdict.accepted and error is None:
            nix_rejects.append(f"{path}: nix rejects ({verdict.error}); we accept")
    return we_reject, nix_rejects, unknown


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("directory", type=Path)
    args.add_argument("--workers", type=int, default=None, help="nix processes at once")
    opts = args.parse_args(argv)
    binary = find_nix()
    if binary is None:
        print("nix-instantiate is not on PATH", file=sys.stderr)
        return 2
    files = sorted(p for p in opts.directory.rglob("*.nix") if p.is_file())
    start = time.perf_counter()
    mine = ours(files)
    our_s = time.perf_counter() - start
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:  # Nix's defaults, not this user's nix.conf
        theirs = nix_verdicts(binary, files, workers=opts.workers, env=isolated_env(Path(home)))
    nix_s = time.perf_counter() - start
    we_reject, nix_rejects, unknown = disagreements(files, mine, theirs)
    for line in we_reject + nix_rejects + unknown:
        print(line)
    valid = sum(1 for v in theirs.values() if v.accepted)
    print(f"files: {len(files)} ({valid} valid for nix, {len(files) - valid} not)")
    print(f"we reject, nix accepts: {len(we_reject)}")
    print(f"nix rejects, we accept: {len(nix_rejects)}")
    print(f"no verdict from nix:    {len(unknown)}")
    print(f"disagreements: {len(we_reject) + len(nix_rejects)}")
    print(f"{'parser':<36} {'seconds':>8}")
    print(f"{'securellm (tree-sitter)':<36} {our_s:>8.3f}")
    print(f"{'nix-instantiate --parse (pool)':<36} {nix_s:>8.3f}")
    return 1 if we_reject or nix_rejects or unknown else 0


if __name__ == "__main__":
    sys.exit(main())
