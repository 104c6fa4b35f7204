"""parse-error: a file that is not valid Nix breaks every evaluation that imports it."""

from __future__ import annotations

from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.nixcheck import find_nix, nix_verdicts
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule


class ParseError(Rule):
    id = "parse-error"
    severity = Severity.HIGH
    whole_repo = False
    title = "File is not valid Nix"
    explanation = (
        "The file does not parse, so any host that imports it fails to evaluate; the other "
        "rules only see the part of the file the error-tolerant parser could recover."
    )
    fix = "Fix the syntax at the reported line; check with `nix-instantiate --parse FILE`."

    def check(self, repo: Repository) -> Iterator[Finding]:
        broken = {n: f.parse_error for n, f in sorted(repo.files.items()) if f.parse_error}
        nix = find_nix()
        verdicts = nix_verdicts(nix, [repo.root / n for n in broken]) if nix and broken else {}
        for name, (line, message) in broken.items():
            verdict = verdicts.get(repo.root / name)
            if verdict is not None and verdict.accepted:
                yield self.finding(
                    name,
                    line,
                    f"our parser rejects this file ({message}) but `nix-instantiate --parse` "
                    "accepts it: a gap in securellm's Nix grammar, not an error in your file",
                    severity=Severity.INFO,
                    explanation=OUR_BUG,
                    fix="Nothing to fix in the file; please report it so the grammar is updated.",
                )
            else:
                yield self.finding(name, line, message)


OUR_BUG = (
    "Nix itself parses the file, so the problem is in the auditor's grammar; the other rules "
    "only saw the part of the file the grammar could read."
)


RULES = (ParseError(),)
