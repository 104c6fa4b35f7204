"""duplicate-setting: one option set to different values in modules evaluated together."""

from __future__ import annotations

from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.nixfile import Assignment
from securellm.nixaudit.options import Merge, merge_of
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule, files_of, listing, priority_name

SCALAR_KINDS = frozenset({"bool", "number", "string", "path", "null"})
"""Lists and attribute sets merge in the module system; scalars may conflict."""
TYPED_KINDS = frozenset({"bool", "number", "path", "null"})
"""Values whose option cannot be a mergeable text type, even when the option is unknown."""
GLOBAL_CONDITIONS = ("config.", "pkgs.")
"""mkIf conditions that mean the same in every module; others (``cfg.enable``) are local."""


def exclusive_sets(defs: list[Assignment]) -> list[list[Assignment]]:
    """Definitions that can be active together: the unconditional ones plus one condition.

    ``mkIf`` branches with different conditions are taken as exclusive; a condition that
    names a module-local binding (``cfg.enable``) is the same only within its file.
    """
    always = [d for d in defs if not d.condition]
    by_condition: dict[str, list[Assignment]] = {}
    for d in defs:
        if d.condition:
            key = d.condition if d.condition.startswith(GLOBAL_CONDITIONS) else d.file
            by_condition.setdefault(f"{key}\0{d.condition}", []).append(d)
    if not by_condition:
        return [always]
    return [always + branch for branch in by_condition.values()]


def conflict(path: tuple[str, ...], defs: list[Assignment]) -> list[Assignment] | None:
    """The definitions of ``path`` that would be reported as differing, if any."""
    if len(files_of(defs)) < 2 or any(d.kind not in SCALAR_KINDS for d in defs):
        return None
    if any("${" in name for name in path):
        return None  # virtualHosts.${domain}: each module's own binding, not one attribute
    if merge_of(path) is Merge.MERGES:
        return None
    for subset in exclusive_sets(defs):
        if len(files_of(subset)) >= 2 and len({d.value for d in subset}) >= 2:
            return subset
    return None


class DuplicateSetting(Rule):
    id = "duplicate-setting"
    severity = Severity.HIGH
    title = "Same option set to different values in several modules"
    explanation = (
        "The NixOS module system merges definitions of one option from every module a host "
        "imports. For scalar options (bool, int, str, path) two definitions with different "
        "values at the same priority are a 'conflicting definition values' error, or, under "
        "mkIf, one that appears only when both conditions hold. Text (types.lines), list and "
        "attribute-set options are concatenated or merged and are never reported. Which file "
        "wins is not visible from any one file."
    )
    fix = (
        "Keep one definition. If a base value must be overridable, write it with "
        "lib.mkDefault in a single base module and override it elsewhere (lib.mkForce only "
        "for deliberate final overrides)."
    )

    def check(self, repo: Repository) -> Iterator[Finding]:
        seen: set[Finding] = set()
        for path in sorted(repo.by_path):
            for group in repo.co_evaluated(repo.by_path[path]):
                defs = conflict(path, group)
                finding = self._judge(path, defs) if defs else None
                if finding is not None and finding not in seen:
                    seen.add(finding)
                    yield finding

    def _judge(self, path: tuple[str, ...], defs: list[Assignment]) -> Finding | None:
        top = min(d.priority for d in defs)
        winners = [d for d in defs if d.priority == top]
        listed = listing(defs)
        first = min(winners, key=lambda d: (d.file, d.line))
        if len({w.value for w in winners}) > 1:
            return self.finding(
                first.file,
                first.line,
                f"{first.dotted} has conflicting values at the same priority "
                f"({priority_name(top)}): {listed}",
                severity=_conflict_severity(path, winners),
            )
        losers = [d for d in defs if d.priority != top]
        if all(d.priority >= 1000 for d in losers):
            return None  # a mkDefault base overridden on purpose: the intended layering
        return self.finding(
            first.file,
            first.line,
            f"{first.dotted} is set in {len(files_of(defs))} files with different values; "
            f"{first.file}:{first.line} wins by priority ({priority_name(top)}): {listed}",
            severity=Severity.LOW,
        )


def _conflict_severity(path: tuple[str, ...], winners: list[Assignment]) -> Severity:
    """High only when the evaluation would fail: a known scalar type, nothing conditional."""
    if any(w.conditional for w in winners):
        return Severity.MEDIUM
    known = merge_of(path) is Merge.CONFLICTS or all(w.kind in TYPED_KINDS for w in winners)
    return Severity.HIGH if known else Severity.MEDIUM


RULES = (DuplicateSetting(),)
