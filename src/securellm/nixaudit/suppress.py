"""What the user silenced: inline comments, ``.securellm-nix.toml`` and severity overrides.

Inline: ``# securellm-nix: ignore rule-a, rule-b [reason]`` after code on the finding's line,
or alone on the line above it.
Config (in the audited repository's root)::

    disable = ["gitignore-gap"]            # rules that never run
    [severity]
    hardcoded-path = "info"                # a rule's findings at another severity
    [[ignore]]
    paths = ["vendor/**", "hosts/old/*"]   # gitignore-style globs, relative to the root
    rules = ["hardcoded-path"]             # omit for every rule
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pathspec

from securellm.nixaudit.fingerprint import with_fingerprints
from securellm.nixaudit.model import Finding, InvalidConfigError, NixAuditError, Severity
from securellm.nixaudit.nixfile import NixFile
from securellm.nixaudit.repo import Repository

CONFIG_NAME = ".securellm-nix.toml"
# Rule ids, comma-separated; anything after them (a reason) is free text.
_INLINE = re.compile(r"securellm-nix:\s*ignore\s+([\w-]+(?:\s*,\s*[\w-]+)*)")


@dataclass(frozen=True, slots=True)
class PathIgnore:
    """Findings in files matching ``spec`` are dropped, for ``rules`` (empty: all)."""

    spec: pathspec.GitIgnoreSpec
    rules: frozenset[str]

    def silences(self, finding: Finding) -> bool:
        in_scope = not self.rules or finding.rule_id in self.rules
        return in_scope and self.spec.match_file(finding.file)


@dataclass(slots=True)
class AuditConfig:
    disabled: frozenset[str] = frozenset()
    severities: dict[str, Severity] = field(default_factory=dict)
    ignores: list[PathIgnore] = field(default_factory=list)

    def apply(self, findings: Iterable[Finding]) -> list[Finding]:
        """Drop disabled rules' and path-ignored findings; apply severity overrides."""
        kept = []
        for finding in findings:
            if finding.rule_id in self.disabled or any(i.silences(finding) for i in self.ignores):
                continue
            severity = self.severities.get(finding.rule_id, finding.severity)
            kept.append(dataclasses.replace(finding, severity=severity))
        return kept


def load_config(root: Path, known_rules: Iterable[str]) -> AuditConfig:
    """The config in ``root`` (empty when there is none); InvalidConfigError when malformed."""
    path = root / CONFIG_NAME
    if not path.is_file():
        return AuditConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidConfigError(f"{CONFIG_NAME}: {exc}") from None
    return _parse_config(data, frozenset(known_rules))


def _parse_config(data: Mapping[str, Any], known: frozenset[str]) -> AuditConfig:
    unknown_keys = set(data) - {"disable", "severity", "ignore"}
    if unknown_keys:
        raise InvalidConfigError(f"{CONFIG_NAME}: unknown key {', '.join(sorted(unknown_keys))}")
    disabled = _rule_ids(data.get("disable", []), known, "disable")
    severities = data.get("severity", {})
    if not isinstance(severities, dict):
        raise InvalidConfigError(f"{CONFIG_NAME}: [severity] must be a table")
    _rule_ids(list(severities), known, "severity")
    try:
        parsed = {rule: Severity.parse(str(name)) for rule, name in severities.items()}
    except NixAuditError as exc:
        raise InvalidConfigError(f"{CONFIG_NAME}: {exc}") from None
    ignores = data.get("ignore", [])
    if not isinstance(ignores, list):
        raise InvalidConfigError(f"{CONFIG_NAME}: ignore must be an array of tables")
    return AuditConfig(disabled, parsed, [_path_ignore(i, known) for i in ignores])


def _path_ignore(entry: Any, known: frozenset[str]) -> PathIgnore:
    paths = entry.get("paths") if isinstance(entry, dict) else None
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise InvalidConfigError(f"{CONFIG_NAME}: each [[ignore]] needs paths = [globs]")
    rules = _rule_ids(entry.get("rules", []), known, "ignore.rules")
    return PathIgnore(pathspec.GitIgnoreSpec.from_lines(paths), rules)


def _rule_ids(value: Any, known: frozenset[str], where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidConfigError(f"{CONFIG_NAME}: {where} must be a list of rule ids")
    unknown = sorted(set(value) - known)
    if unknown:
        raise InvalidConfigError(f"{CONFIG_NAME}: {where}: unknown rule {', '.join(unknown)}")
    return frozenset(value)


def inline_ignores(
    files: Mapping[str, NixFile], line_of: Callable[[str, int], str]
) -> dict[str, dict[int, set[str]]]:
    """For each file, line -> rule ids silenced there: a comment after code silences its own
    line, a comment alone on its line the line below."""
    found: dict[str, dict[int, set[str]]] = {}
    for name, nix_file in files.items():
        lines: dict[int, set[str]] = defaultdict(set)
        for comment in nix_file.comments:
            for offset, text in enumerate(comment.text.splitlines()):
                match = _INLINE.search(text)
                if match:
                    line = comment.line + offset
                    alone = line_of(name, line).lstrip().startswith(("#", "/*", "*"))
                    ids = {i.strip() for i in match.group(1).split(",") if i.strip()}
                    lines[line + 1 if alone else line] |= ids
        if lines:
            found[name] = dict(lines)
    return found


def drop_inline(
    findings: Iterable[Finding], ignores: Mapping[str, Mapping[int, set[str]]]
) -> list[Finding]:
    return [f for f in findings if f.rule_id not in ignores.get(f.file, {}).get(f.line, set())]


def silence(
    findings: list[Finding], repo: Repository, known_rules: Iterable[str]
) -> tuple[list[Finding], int]:
    """Findings left after inline ignores and the repo's config, fingerprinted; and the count
    silenced. Raises InvalidConfigError for a malformed config."""
    config = load_config(repo.root, known_rules)
    line_of = _line_reader(repo)
    kept = config.apply(drop_inline(findings, inline_ignores(repo.files, line_of)))
    return with_fingerprints(kept, line_of), len(findings) - len(kept)


def _line_reader(repo: Repository) -> Callable[[str, int], str]:
    cache: dict[str, list[str]] = {}

    def line_of(file: str, line: int) -> str:
        if file not in cache:
            cache[file] = repo.read_text(file, limit=MAX_FINGERPRINT_BYTES).splitlines()
        lines = cache[file]
        return lines[line - 1] if 0 < line <= len(lines) else ""

    return line_of


MAX_FINGERPRINT_BYTES = 2_000_000
