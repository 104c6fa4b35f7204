"""nix-settings-scattered: the Nix daemon's settings spread over several modules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.nixfile import Assignment
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule, files_of, listing
from securellm.nixaudit.rules.duplicates import conflict


class NixSettingsScattered(Rule):
    id = "nix-settings-scattered"
    severity = Severity.MEDIUM
    title = "nix.settings key set in several modules"
    explanation = (
        "When max-jobs, cores, trusted-users or the download timeouts are set in several "
        "modules there is no single place that says what the daemon runs with: lists are "
        "concatenated, scalars conflict or are silently overridden by priority."
    )
    fix = (
        "Move Nix daemon settings into one base module (e.g. modules/core/nix-base.nix) with "
        "lib.mkDefault values; other modules and hosts override a key only with lib.mkForce "
        "and a comment saying why."
    )

    def check(self, repo: Repository) -> Iterator[Finding]:
        by_key: dict[str, list[Assignment]] = defaultdict(list)
        for assignment in repo.under("nix", "settings"):
            if len(assignment.path) > 2:
                by_key[assignment.path[2]].append(assignment)
        seen: set[Finding] = set()
        for key in sorted(by_key):
            for group in repo.co_evaluated(by_key[key]):
                finding = self._judge(key, group)
                if finding is not None and finding not in seen:
                    seen.add(finding)
                    yield finding

    def _judge(self, key: str, group: list[Assignment]) -> Finding | None:
        defs = sorted(group, key=lambda d: (d.file, d.line))
        files = files_of(defs)
        if len(files) < 2 or _layered(defs) or conflict(("nix", "settings", key), defs):
            return None  # a conflict is duplicate-setting's finding, reported once there
        scalars = all(d.kind != "list" for d in defs)
        differs = scalars and len({d.value for d in defs}) > 1
        return self.finding(
            defs[0].file,
            defs[0].line,
            f"nix.settings.{key} is set in {len(files)} modules: {listing(defs)}",
            severity=Severity.MEDIUM if differs else Severity.LOW,
        )


def _layered(defs: list[Assignment]) -> bool:
    """One module owns the key; the others only give mkDefault fallbacks."""
    owners = {d.file for d in defs if d.priority < 1000}
    return len(owners) <= 1


RULES = (NixSettingsScattered(),)
