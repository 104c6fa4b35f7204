"""Fingerprints that survive line moves: rule id, file, and the finding's normalised subject.

The subject is the source line the finding points at (whitespace collapsed) and the message
with its numbers blanked, so a finding keeps its fingerprint when lines are added above it
or when the file it mentions moves its lines. Two findings with the same key in one file get
``:1``, ``:2``... in the order of their lines.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter
from collections.abc import Callable

from securellm.nixaudit.model import Finding

_NUMBERS = re.compile(r"\d+")


def normalised(text: str) -> str:
    return " ".join(_NUMBERS.sub("#", text).split())


def fingerprint_key(finding: Finding, source_line: str) -> str:
    parts = (
        finding.rule_id,
        finding.file,
        " ".join(source_line.split()),
        normalised(finding.message),
    )
    return hashlib.sha256("\0".join(parts).encode("utf-8", "replace")).hexdigest()[:32]


def with_fingerprints(findings: list[Finding], line_of: Callable[[str, int], str]) -> list[Finding]:
    """``findings`` with ``fingerprint`` set; ``line_of(file, line)`` gives the source line."""
    seen: Counter[str] = Counter()
    out = []
    for finding in sorted(findings, key=lambda f: (f.file, f.line, f.rule_id, f.message)):
        key = fingerprint_key(finding, line_of(finding.file, finding.line))
        seen[key] += 1
        out.append(dataclasses.replace(finding, fingerprint=f"{key}:{seen[key]}"))
    return out
