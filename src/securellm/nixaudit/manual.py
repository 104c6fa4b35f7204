"""Hand-written sections of a blueprint, kept across regenerations.

A manual section is the text between ``<!-- manual:NAME -->`` and ``<!-- /manual:NAME -->``.
Regenerating puts the person's text back under the same name; a section whose name the new
document no longer has is appended at the end, so nothing written by hand is lost.
"""

from __future__ import annotations

import re

_SECTION = re.compile(
    r"<!-- manual:(?P<name>[A-Za-z0-9_-]+) -->\n(?P<body>.*?)<!-- /manual:(?P=name) -->",
    re.DOTALL,
)


def section(name: str, placeholder: str = "") -> str:
    """An empty manual section, with an optional placeholder line."""
    body = f"{placeholder}\n" if placeholder else ""
    return f"<!-- manual:{name} -->\n{body}<!-- /manual:{name} -->"


def extract(text: str) -> dict[str, str]:
    """The body of every manual section in ``text``, by name (first one wins)."""
    found: dict[str, str] = {}
    for match in _SECTION.finditer(text):
        found.setdefault(match.group("name"), match.group("body"))
    return found


def merge(generated: str, existing: str | None) -> str:
    """``generated`` with the manual sections' bodies taken from ``existing``."""
    if not existing:
        return generated
    kept = extract(existing)
    used: set[str] = set()

    def restore(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in kept:
            return match.group(0)
        used.add(name)
        return f"<!-- manual:{name} -->\n{kept[name]}<!-- /manual:{name} -->"

    merged = _SECTION.sub(restore, generated)
    orphans = [name for name in kept if name not in used]
    if orphans:
        parts = [merged.rstrip("\n"), "", "## Preserved notes", ""]
        for name in orphans:
            parts += [f"<!-- manual:{name} -->\n{kept[name]}<!-- /manual:{name} -->", ""]
        merged = "\n".join(parts)
    return merged
