"""The auditor on real configuration repositories: files, time, findings by rule and severity.

Check each repository out to a directory of its own (outside this project), then:

    .venv/bin/python benchmarks/nix_audit_real.py DIR... [--sample 10] [--seed 16]

For each directory it prints, side by side in the same run, the time to walk and parse
the tree (the floor: load_repository) and the full audit over it, the findings per rule
and severity, and ``--sample`` findings drawn at random (fixed seed) for a person to judge
true or false by reading the code. Nothing is written; third-party code is only read.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from pathlib import Path

from securellm.nixaudit.audit import run_rules
from securellm.nixaudit.model import AuditReport, Finding, Severity
from securellm.nixaudit.repo import load_repository
from securellm.nixaudit.rules import all_rules

SEVERITIES = [s.value for s in reversed(Severity)]


def measure(root: Path) -> tuple[float, float, AuditReport]:
    """(seconds to load and parse, seconds for load plus every rule, the report)."""
    start = time.perf_counter()
    load_repository(root)
    parsed = time.perf_counter() - start
    start = time.perf_counter()
    repo = load_repository(root)
    report = run_rules(repo, list(all_rules().values()), Severity.INFO, str(root))
    return parsed, time.perf_counter() - start, report


def table(report: AuditReport) -> list[str]:
    counts = Counter((f.rule_id, f.severity.value) for f in report.findings)
    rules = sorted({rule for rule, _ in counts})
    width = max([len(r) for r in rules] + [10])
    lines = [f"  {'rule':<{width}} " + " ".join(f"{s:>8}" for s in SEVERITIES)]
    for rule in rules:
        cells = " ".join(f"{counts.get((rule, s), 0) or '':>8}" for s in SEVERITIES)
        lines.append(f"  {rule:<{width}} {cells}")
    totals = " ".join(f"{report.summary[s]:>8}" for s in SEVERITIES)
    lines.append(f"  {'total':<{width}} {totals}")
    return lines


def sample(findings: list[Finding], size: int, seed: int) -> list[Finding]:
    chosen = random.Random(seed).sample(findings, min(size, len(findings)))
    return sorted(chosen, key=lambda f: (-f.severity.rank, f.file, f.line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--sample", type=int, default=10)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    print(f"{'repository':<34} {'files':>6} {'parse s':>8} {'audit s':>8} {'findings':>9}")
    reports = []
    for root in args.dirs:
        parsed, audited, report = measure(root)
        reports.append((root, report))
        print(
            f"{root.name:<34} {report.files_scanned:>6} {parsed:>8.2f} {audited:>8.2f} "
            f"{len(report.findings):>9}"
        )
    for root, report in reports:
        print(f"\n== {root.name}")
        print("\n".join(table(report)))
        high = report.at_or_above(Severity.HIGH)
        shown = high + [f for f in sample(report.findings, args.sample, args.seed) if f not in high]
        print(f"  every finding at high or above ({len(high)}), then a random sample:")
        for finding in shown:
            print(f"    [{finding.severity.value}] {finding.rule_id} {finding.file}:{finding.line}")
            print(f"        {finding.message[:160]}")


if __name__ == "__main__":
    main()
