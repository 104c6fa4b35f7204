"""hardcoded-etc-nixos: absolute references to the repository's own checkout location."""

from __future__ import annotations

from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule

MARKER = "/etc/nixos"


class HardcodedEtcNixos(Rule):
    id = "hardcoded-etc-nixos"
    severity = Severity.MEDIUM
    whole_repo = False
    title = "Hard-coded /etc/nixos path"
    explanation = (
        "An absolute /etc/nixos path ties the configuration to one checkout location: it "
        "breaks when the repository is cloned elsewhere or built from a flake (pure "
        "evaluation forbids absolute paths), and a path literal copies that file into the "
        "store behind the flake's back."
    )
    fix = (
        "Use a path relative to the module (./file, ../dir) or the flake's `self` "
        "(e.g. `${self}/dir`); in scripts take the location from a variable or option."
    )

    def check(self, repo: Repository) -> Iterator[Finding]:
        for name, nix_file in sorted(repo.files.items()):
            for literal in nix_file.literals:
                if MARKER not in literal.text or literal.in_docs:
                    continue
                kind = "path" if literal.is_path else "string"
                yield self.finding(
                    name,
                    literal.line,
                    f"{kind} literal refers to {MARKER}",
                    severity=Severity.MEDIUM if literal.is_path else Severity.LOW,
                )


RULES = (HardcodedEtcNixos(),)
