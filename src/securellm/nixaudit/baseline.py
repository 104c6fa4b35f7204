"""Baseline files: today's findings recorded by fingerprint, so later runs show only new ones."""

from __future__ import annotations

import json
from pathlib import Path

from securellm.nixaudit.model import AuditReport, Finding, InvalidConfigError

BASELINE_VERSION = 1


def baseline_document(report: AuditReport) -> dict[str, object]:
    """The JSON document recording every finding of ``report``."""
    return {
        "version": BASELINE_VERSION,
        "tool": "securellm-nix",
        "findings": [
            {"fingerprint": f.fingerprint, "rule_id": f.rule_id, "file": f.file}
            for f in report.findings
        ],
    }


def write_baseline(path: Path, report: AuditReport) -> None:
    path.write_text(json.dumps(baseline_document(report), indent=2) + "\n", encoding="utf-8")


def load_baseline(path: Path) -> frozenset[str]:
    """The fingerprints recorded in ``path``; InvalidConfigError when it is not a baseline."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidConfigError(f"cannot read baseline {path}: {exc}") from None
    entries = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(entries, list) or data.get("version") != BASELINE_VERSION:
        raise InvalidConfigError(f"{path} is not a securellm-nix baseline (version 1)")
    return frozenset(
        e["fingerprint"] for e in entries if isinstance(e, dict) and "fingerprint" in e
    )


def new_findings(findings: list[Finding], known: frozenset[str]) -> list[Finding]:
    return [f for f in findings if f.fingerprint not in known]
