"""Repository layout: categories without an aggregator, oversized modules, broken imports."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterator

from securellm.nixaudit import graph
from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.orphans import NOT_MODULES, autoloader, scanned_paths
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule

MAX_MODULE_LINES = 400


class MissingDefaultNix(Rule):
    id = "missing-default-nix"
    severity = Severity.LOW
    title = "Directory of modules without a default.nix aggregator"
    explanation = (
        "Without a default.nix every importer lists each file of the category by hand, so a "
        "new module is easily forgotten and host files grow long import lists."
    )
    fix = "Add a default.nix in the directory whose `imports` lists the directory's modules."

    def check(self, repo: Repository) -> Iterator[Finding]:
        if autoloader(repo) is not None:
            return  # an input loads the directories by convention: no aggregator is wanted
        scanned = scanned_paths(repo)
        by_dir: dict[str, list[str]] = defaultdict(list)
        for name, nix_file in repo.files.items():
            if nix_file.is_module and posixpath.basename(name) not in NOT_MODULES:
                by_dir[posixpath.dirname(name)].append(name)
        for directory in sorted(by_dir):
            modules = sorted(by_dir[directory])
            if directory == "" or len(modules) < 2 or _is_scanned(directory, scanned):
                continue
            if (
                f"{directory}/default.nix" in repo.files
                or graph.aggregator(repo, modules) is not None
            ):
                continue
            yield self.finding(
                modules[0],
                1,
                f"{directory}/ holds {len(modules)} modules and no default.nix",
            )


def _is_scanned(directory: str, scanned: set[str]) -> bool:
    """A directory (or one above it) handed to a function that loads it (``mapModules ./x``)."""
    return any(directory == d or directory.startswith(d + "/") for d in scanned)


class ModuleTooLarge(Rule):
    id = "module-too-large"
    severity = Severity.LOW
    title = "Module longer than the size threshold"
    explanation = (
        f"Modules over {MAX_MODULE_LINES} lines usually hold several concerns (packages, "
        "services, scripts, key bindings); they are hard to review and to reuse in part."
    )
    fix = (
        "Split the module into a directory with a default.nix and one file per concern "
        "(e.g. core.nix, scripts.nix, keybindings.nix)."
    )

    def check(self, repo: Repository) -> Iterator[Finding]:
        for name, nix_file in sorted(repo.files.items()):
            if nix_file.line_count > MAX_MODULE_LINES:
                yield self.finding(
                    name, 1, f"{name} has {nix_file.line_count} lines (limit {MAX_MODULE_LINES})"
                )


SKELETON_DIRS = frozenset({"templates", "template", "examples", "example", "tests", "test"})
"""Flake templates and test drivers import files their user or test writes later."""


class MissingImport(Rule):
    id = "missing-import"
    severity = Severity.HIGH
    title = "Import points at a file that does not exist"
    explanation = (
        "Evaluation of every host that reaches this import fails with 'path does not exist'; "
        "typically a module was moved or renamed and the import list not updated."
    )
    fix = "Point the import at the module's new location, or remove it."

    def check(self, repo: Repository) -> Iterator[Finding]:
        for edge in graph.edges(repo):
            if not edge.exists:
                skeleton = SKELETON_DIRS & set(edge.source.split("/")[:-1])
                yield self.finding(
                    edge.source,
                    edge.line,
                    f"import {edge.target} does not exist"
                    + (
                        " (in a template or test, where the file may be made later)"
                        if skeleton
                        else ""
                    ),
                    severity=Severity.LOW if skeleton else None,
                )


RULES = (MissingDefaultNix(), ModuleTooLarge(), MissingImport())
