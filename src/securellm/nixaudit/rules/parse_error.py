"""parse-error: a file that is not valid Nix breaks every evaluation that imports it."""

from __future__ import annotations

from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule


class ParseError(Rule):
    id = "parse-error"
    severity = Severity.HIGH
    title = "File is not valid Nix"
    explanation = (
        "The file does not parse, so any host that imports it fails to evaluate; the other "
        "rules only see the part of the file the error-tolerant parser could recover."
    )
    fix = "Fix the syntax at the reported line; check with `nix-instantiate --parse FILE`."

    def check(self, repo: Repository) -> Iterator[Finding]:
        for name, nix_file in sorted(repo.files.items()):
            if nix_file.parse_error is not None:
                line, message = nix_file.parse_error
                yield self.finding(name, line, message)


RULES = (ParseError(),)
