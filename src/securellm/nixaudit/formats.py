"""Render an AuditReport as text for people or SARIF 2.1.0 for editors and CI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from securellm import __version__
from securellm.nixaudit.model import AuditReport, Finding, Severity
from securellm.nixaudit.rule import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# The auditor's documentation (docs/nix.md); rule help links to its Rules table.
INFORMATION_URI = "https://github.com/securellm/securellm/blob/main/docs/nix.md"
RULES_URI = INFORMATION_URI + "#rules"
FINGERPRINT_KEY = "securellmNix/v1"
# What a viewer opens for a finding about a directory or a link: the first that exists.
_STAND_INS = ("{dir}/default.nix", "{dir}/README.md", ".gitignore", "flake.nix")
_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def to_text(report: AuditReport, rules: dict[str, Rule]) -> str:
    """One block per finding (where, what, fix), then each rule's explanation once."""
    lines: list[str] = []
    for finding in report.findings:
        lines.append(
            f"{finding.file}:{finding.line}: {finding.severity.value} "
            f"[{finding.rule_id}] {finding.message}"
        )
        lines.append(f"    fix: {finding.fix}")
    if report.findings:
        lines += ["", "Why these matter:"]
        for rule_id in dict.fromkeys(f.rule_id for f in report.findings):
            explanation = next(f.explanation for f in report.findings if f.rule_id == rule_id)
            title = rules[rule_id].title if rule_id in rules else rule_id
            lines.append(f"  {rule_id} ({title}): {explanation}")
        lines.append("")
    counts = ", ".join(f"{n} {name}" for name, n in reversed(report.summary.items()) if n)
    lines.append(f"{report.files_scanned} Nix files scanned: {counts or 'no findings'}")
    if report.suppressed:
        lines.append(f"{report.suppressed} findings suppressed (inline, config or baseline)")
    if report.skipped_rules:
        lines.append(f"skipped, need the whole repository: {', '.join(report.skipped_rules)}")
    return "\n".join(lines) + "\n"


def to_sarif(report: AuditReport, rules: dict[str, Rule]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run; locations are relative to the audited directory."""
    used = list(dict.fromkeys(f.rule_id for f in report.findings))
    ids = list(rules) + [i for i in used if i not in rules]
    index = {rule_id: n for n, rule_id in enumerate(ids)}
    descriptors = [_descriptor(i, rules.get(i), report.findings) for i in ids]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "securellm-nixaudit",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": descriptors,
                    }
                },
                "originalUriBaseIds": {"SRCROOT": {"description": {"text": report.path}}},
                "results": [
                    _result(f, index[f.rule_id], Path(report.root)) for f in report.findings
                ],
            }
        ],
    }


def _descriptor(rule_id: str, rule: Rule | None, findings: list[Finding]) -> dict[str, Any]:
    if rule is None:
        sample = next(f for f in findings if f.rule_id == rule_id)
        title, explanation, fix, severity = rule_id, sample.explanation, sample.fix, sample.severity
    else:
        title, explanation, fix, severity = rule.title, rule.explanation, rule.fix, rule.severity
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("-")),
        "shortDescription": {"text": title},
        "fullDescription": {"text": explanation},
        "help": {"text": f"{fix}\n\n{explanation}", "markdown": f"**Fix:** {fix}\n\n{explanation}"},
        "helpUri": RULES_URI,
        "defaultConfiguration": {"level": _LEVELS[severity]},
        "properties": {"security-severity": _SECURITY_SEVERITY[severity]},
    }


def _result(finding: Finding, rule_index: int, root: Path) -> dict[str, Any]:
    uri, note = _openable(finding.file, root)
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": f"{note}{finding.message}. Fix: {finding.fix}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri, "uriBaseId": "SRCROOT"},
                    "region": {"startLine": finding.line if uri == finding.file else 1},
                }
            }
        ],
        "properties": {"severity": finding.severity.value, "path": finding.file},
    }
    if finding.fingerprint:
        result["partialFingerprints"] = {FINGERPRINT_KEY: finding.fingerprint}
    return result


def _openable(file: str, root: Path) -> tuple[str, str]:
    """A file a viewer can open for ``file``: itself when it is a regular file, else a stand-in
    (the directory's default.nix or README, the repository's .gitignore or flake.nix) and a
    note naming the real subject."""
    if not root.parts or (root / file).is_file():
        return file, ""
    directory = file.rstrip("/")
    for pattern in _STAND_INS:
        candidate = pattern.format(dir=directory)
        if (root / candidate).is_file():
            return candidate, f"[{file}] "
    return file, ""
