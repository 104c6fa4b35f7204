"""duplicate-setting: one option set to different values in several files."""

from __future__ import annotations

from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.nixfile import Assignment
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule, files_of, listing, priority_name

SCALAR_KINDS = frozenset({"bool", "number", "string", "path", "null"})
"""Lists and attribute sets merge in the module system; scalars conflict."""


class DuplicateSetting(Rule):
    id = "duplicate-setting"
    severity = Severity.HIGH
    title = "Same option set to different values in several modules"
    explanation = (
        "The NixOS module system merges definitions of one option from every module. For "
        "scalar options (bool, int, str, path) two definitions with different values at the "
        "same priority are a 'conflicting definition values' error, or, under mkIf, one that "
        "appears only when both conditions hold. Which file wins is not visible from any one file."
    )
    fix = (
        "Keep one definition. If a base value must be overridable, write it with "
        "lib.mkDefault in a single base module and override it elsewhere (lib.mkForce only "
        "for deliberate final overrides)."
    )

    def check(self, repo: Repository) -> Iterator[Finding]:
        seen: set[Finding] = set()
        for path in sorted(repo.by_path):
            for defs in repo.co_evaluated(repo.by_path[path]):
                if len(files_of(defs)) < 2 or any(d.kind not in SCALAR_KINDS for d in defs):
                    continue
                if len({d.value for d in defs}) < 2:
                    continue
                finding = self._judge(defs)
                if finding is not None and finding not in seen:
                    seen.add(finding)
                    yield finding

    def _judge(self, defs: list[Assignment]) -> Finding | None:
        top = min(d.priority for d in defs)
        winners = [d for d in defs if d.priority == top]
        listed = listing(defs)
        first = min(winners, key=lambda d: (d.file, d.line))
        if len({w.value for w in winners}) > 1:
            conditional = any(w.conditional for w in winners)
            return self.finding(
                first.file,
                first.line,
                f"{first.dotted} has conflicting values at the same priority "
                f"({priority_name(top)}): {listed}",
                severity=Severity.MEDIUM if conditional else Severity.HIGH,
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


RULES = (DuplicateSetting(),)
