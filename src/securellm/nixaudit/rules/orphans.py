"""orphan-module: a module that no host, import or scanned directory loads."""

from __future__ import annotations

from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.orphans import orphan_modules
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule


class OrphanModule(Rule):
    id = "orphan-module"
    severity = Severity.INFO
    title = "Module imported by nothing"
    explanation = (
        "No path literal imports this module, no flake host or hosts/ entry starts at it and "
        "no directory handed to a function contains it, so no configuration the auditor can "
        "see evaluates it: it is dead code, or it is loaded in a way the auditor does not "
        "follow (then ignore this note)."
    )
    fix = "Import it where it belongs, or delete it."

    def check(self, repo: Repository) -> Iterator[Finding]:
        for name in orphan_modules(repo):
            yield self.finding(name, 1, f"{name} is not imported by any file or host")


RULES = (OrphanModule(),)
