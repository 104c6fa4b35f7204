"""Render an AuditReport as text for people or SARIF 2.1.0 for editors and CI."""

from __future__ import annotations

from typing import Any

from securellm import __version__
from securellm.nixaudit.model import AuditReport, Finding, Severity
from securellm.nixaudit.rule import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
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
                        "rules": descriptors,
                    }
                },
                "originalUriBaseIds": {"SRCROOT": {"description": {"text": report.path}}},
                "results": [_result(f, index[f.rule_id]) for f in report.findings],
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
        "help": {"text": fix},
        "defaultConfiguration": {"level": _LEVELS[severity]},
        "properties": {"security-severity": _SECURITY_SEVERITY[severity]},
    }


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": f"{finding.message}. Fix: {finding.fix}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": finding.file, "uriBaseId": "SRCROOT"},
                    "region": {"startLine": finding.line},
                }
            }
        ],
        "properties": {"severity": finding.severity.value},
    }
