"""gitignore-gap: no .gitignore, or one that misses what a flake repository produces."""

from __future__ import annotations

from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule

EXPECTED = ("result",)


class GitignoreGap(Rule):
    id = "gitignore-gap"
    severity = Severity.LOW
    title = ".gitignore missing or incomplete"
    explanation = (
        "Without ignore patterns, `nix build` result links, build directories and database "
        "files are one `git add -A` away from being committed into the configuration."
    )
    fix = (
        "Add a .gitignore with at least: result, result-*, target/, node_modules/, *.db*, "
        ".direnv/ and private key files (*.key, id_*)."
    )

    def check(self, repo: Repository) -> Iterator[Finding]:
        if repo.gitignore is None:
            yield self.finding(".gitignore", 1, "the repository has no .gitignore")
            return
        missing = [p for p in EXPECTED if not repo.is_ignored(p)]
        if missing:
            yield self.finding(".gitignore", 1, f".gitignore does not ignore {', '.join(missing)}")


RULES = (GitignoreGap(),)
