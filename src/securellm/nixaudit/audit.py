"""Run the rule plug-ins over a repository and collect their findings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from securellm.nixaudit.baseline import load_baseline, new_findings
from securellm.nixaudit.model import AuditReport, Finding, Severity, UnknownRuleError
from securellm.nixaudit.repo import Repository, load_files, load_repository
from securellm.nixaudit.rule import Rule
from securellm.nixaudit.rules import all_rules
from securellm.nixaudit.suppress import silence

log = logging.getLogger(__name__)


def select_rules(ids: Sequence[str] | None) -> list[Rule]:
    """The rules named by ``ids`` (all when None); UnknownRuleError for a name no rule has."""
    available = all_rules()
    if not ids:
        return list(available.values())
    unknown = [i for i in ids if i not in available]
    if unknown:
        raise UnknownRuleError(
            f"unknown rule {', '.join(unknown)}; known rules: {', '.join(available)}"
        )
    return [available[i] for i in dict.fromkeys(ids)]


def audit_repository(
    path: Path,
    *,
    rules: Sequence[str] | None = None,
    min_severity: str = "info",
    baseline: Path | None = None,
) -> AuditReport:
    """Audit the NixOS configuration repository at ``path``.

    Bad Nix never raises (it is a ``parse-error`` finding); a path that is not a directory
    raises InvalidPathError, an unknown rule or severity UnknownRuleError/InvalidSeverityError,
    a malformed ``.securellm-nix.toml`` or ``baseline`` InvalidConfigError. Findings recorded in
    ``baseline`` are left out.
    """
    threshold = Severity.parse(min_severity)
    chosen = select_rules(rules)
    known = load_baseline(baseline) if baseline is not None else None
    repo = load_repository(Path(path))
    return _without_baseline(run_rules(repo, chosen, threshold, str(path)), known)


def audit_files(
    paths: Sequence[Path],
    *,
    rules: Sequence[str] | None = None,
    min_severity: str = "info",
    baseline: Path | None = None,
) -> AuditReport:
    """Audit just ``paths`` (files, e.g. from pre-commit), with the rules that judge one file
    alone; the others are listed in ``skipped_rules``. Config and names are relative to the
    files' git work tree (else their common parent)."""
    threshold = Severity.parse(min_severity)
    chosen = select_rules(rules)
    known = load_baseline(baseline) if baseline is not None else None
    repo = load_files([Path(p) for p in paths])
    per_file = [r for r in chosen if not r.whole_repo]
    report = run_rules(repo, per_file, threshold, ", ".join(str(p) for p in paths))
    report.skipped_rules = [r.id for r in chosen if r.whole_repo]
    return _without_baseline(report, known)


def _without_baseline(report: AuditReport, known: frozenset[str] | None) -> AuditReport:
    if known is not None:
        kept = new_findings(report.findings, known)
        report.suppressed += len(report.findings) - len(kept)
        report.findings = kept
    return report


def run_rules(
    repo: Repository, rules: Sequence[Rule], threshold: Severity, label: str
) -> AuditReport:
    """Run ``rules``, drop what inline comments and ``.securellm-nix.toml`` silence."""
    findings: list[Finding] = []
    for rule in rules:
        findings.extend(_run_one(rule, repo))
    findings, suppressed = silence(findings, repo, all_rules())
    kept = [f for f in findings if f.severity.rank >= threshold.rank]
    kept.sort(key=lambda f: (-f.severity.rank, f.file, f.line, f.rule_id))
    return AuditReport(
        path=label,
        files_scanned=len(repo.files),
        findings=kept,
        suppressed=suppressed,
        root=str(repo.root),
    )


def _run_one(rule: Rule, repo: Repository) -> list[Finding]:
    try:
        return list(rule.check(repo))
    except Exception:  # a plug-in's bug must not hide every other rule's findings
        log.exception("nixaudit rule %s crashed", rule.id)
        return [
            Finding(
                rule_id="rule-error",
                severity=Severity.INFO,
                file=".",
                line=1,
                message=f"rule {rule.id} failed on this repository; its findings are missing",
                explanation="An internal error in one rule; the other rules ran normally.",
                fix="Report the repository shape that triggers it; rerun with --rule to isolate.",
            )
        ]
