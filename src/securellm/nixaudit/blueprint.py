"""The architecture blueprint: a Markdown document written from the repository itself."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from pathlib import Path

from securellm.nixaudit import blueprint_sections, graph, manual
from securellm.nixaudit.audit import run_rules
from securellm.nixaudit.model import AuditReport, Severity
from securellm.nixaudit.nixfile import shown_value
from securellm.nixaudit.repo import Repository, load_repository
from securellm.nixaudit.rules import all_rules
from securellm.nixaudit.tree import render_tree

MAX_FINDINGS_LISTED = 40


def generate_blueprint(path: Path, existing: str | None = None) -> str:
    """The blueprint of the repository at ``path`` as Markdown.

    ``existing`` is a previous blueprint: its manual sections are carried over.
    Raises InvalidPathError when ``path`` is not a directory.
    """
    repo = load_repository(Path(path))
    report = run_rules(repo, list(all_rules().values()), Severity.INFO, str(path))
    edges = graph.edges(repo)
    sections = [
        _title(),
        _overview(repo, Path(path)),
        blueprint_sections.inputs_section(repo),
        blueprint_sections.root_files_section(repo),
        _structure(repo),
        _modules(repo, edges),
        _options(repo),
        _coverage(repo, edges),
        _import_graph(edges),
        blueprint_sections.orphans_section(repo),
        _todos(repo),
        _audit(report),
        _notes(),
    ]
    return manual.merge("\n\n".join(sections).rstrip("\n") + "\n", existing)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or "—"


def _title() -> str:
    return "\n".join(
        [
            "# NixOS Repository Architecture Blueprint",
            "",
            "> Written by `securellm nix blueprint` from the repository itself. Text between",
            "> `<!-- manual:NAME -->` and `<!-- /manual:NAME -->` is yours: regenerating keeps it.",
            "",
            "- [Overview](#overview)",
            "- [Flake inputs](#flake-inputs)",
            "- [Other files at the root](#other-files-at-the-root)",
            "- [Directory structure](#directory-structure)",
            "- [Modules](#modules)",
            "- [Declared options](#declared-options)",
            "- [default.nix coverage](#defaultnix-coverage)",
            "- [Import graph](#import-graph)",
            "- [Orphan modules](#orphan-modules)",
            "- [TODO and FIXME](#todo-and-fixme)",
            "- [Audit summary](#audit-summary)",
            "- [Notes](#notes)",
        ]
    )


purpose = blueprint_sections.purpose
hosts = blueprint_sections.hosts


def _overview(repo: Repository, path: Path) -> str:
    modules = sum(1 for f in repo.files.values() if f.is_module)
    lines = [
        "## Overview",
        "",
        "```",
        f"Repository: {path.resolve().name or path}",
        f"Nix files:  {len(repo.files)} ({modules} modules)",
        "Hosts:",
    ]
    lines += [f"  - {host} ({where})" for host, where in hosts(repo)] or ["  (none found)"]
    lines += ["```", "", manual.section("overview", "Purpose: ")]
    return "\n".join(lines)


def _structure(repo: Repository) -> str:
    purposes = {name: purpose(repo, name, f) for name, f in repo.files.items()}
    lines = ["## Directory structure", "", "```", *render_tree(repo, purposes), "```", ""]
    lines.append(manual.section("structure", "Design decisions about the layout: "))
    return "\n".join(lines)


def _importers(edges: list[graph.Edge]) -> dict[str, list[str]]:
    importers: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        importers[edge.target].append(edge.source)
    return importers


def _modules(repo: Repository, edges: list[graph.Edge]) -> str:
    importers = _importers(edges)
    lines = [
        "## Modules",
        "",
        "| File | Lines | Purpose | Options | Imported by |",
        "|---|---:|---|---:|---|",
    ]
    for name, nix_file in sorted(repo.files.items()):
        by = ", ".join(f"`{s}`" for s in sorted(set(importers.get(name, [])))) or "—"
        lines.append(
            f"| `{name}` | {nix_file.line_count} | {_cell(purpose(repo, name, nix_file))} "
            f"| {len(nix_file.options)} | {by} |"
        )
    return "\n".join(lines)


def _options(repo: Repository) -> str:
    lines = ["## Declared options", ""]
    declaring = [(n, f) for n, f in sorted(repo.files.items()) if f.options]
    if not declaring:
        return "\n".join([*lines, "No module declares options."])
    for name, nix_file in declaring:
        lines += [f"### `{name}`", "", "| Option | Declared with | Type | Default | Description |"]
        lines.append("|---|---|---|---|---|")
        for option in nix_file.options:
            lines.append(
                f"| `{option.dotted}` | {option.kind} | {_cell(option.type)} "
                f"| {_cell(shown_value(option.dotted, option.default))} "
                f"| {_cell(option.description)} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _coverage(repo: Repository, edges: list[graph.Edge]) -> str:
    importers = _importers(edges)
    by_dir: dict[str, list[str]] = defaultdict(list)
    for name, nix_file in repo.files.items():
        if nix_file.is_module:
            by_dir[posixpath.dirname(name) or "."].append(name)
    lines = [
        "## default.nix coverage",
        "",
        "| Directory | Modules | default.nix | Imported by |",
        "|---|---:|---|---|",
    ]
    for directory in sorted(by_dir):
        default = "default.nix" if directory == "." else f"{directory}/default.nix"
        status = _coverage_status(repo, default, sorted(by_dir[directory]))
        by = ", ".join(f"`{s}`" for s in sorted(set(importers.get(default, [])))) or "—"
        lines.append(f"| `{directory}/` | {len(by_dir[directory])} | {status} | {by} |")
    return "\n".join(lines)


def _coverage_status(repo: Repository, default: str, modules: list[str]) -> str:
    if default in repo.files:
        return "yes"
    if len(modules) < 2:
        return "not needed"
    lead = graph.aggregator(repo, modules)
    return f"imports gathered in `{posixpath.basename(lead)}`" if lead else "**missing**"


def _import_graph(edges: list[graph.Edge]) -> str:
    nodes: dict[str, str] = {}
    for edge in edges:
        for name in (edge.source, edge.target):
            nodes.setdefault(name, f"n{len(nodes)}")
    lines = ["## Import graph", ""]
    if not edges:
        return "\n".join([*lines, "No imports between files."])
    lines += ["```mermaid", "graph LR"]
    for name, node_id in nodes.items():
        lines.append(f'  {node_id}["{name.replace(chr(34), "#quot;")}"]')
    for edge in edges:
        arrow = "-->" if edge.exists else "-.->|missing|"
        lines.append(f"  {nodes[edge.source]} {arrow} {nodes[edge.target]}")
    lines.append("```")
    return "\n".join(lines)


def _todos(repo: Repository) -> str:
    lines = ["## TODO and FIXME", ""]
    for name, nix_file in sorted(repo.files.items()):
        for todo in nix_file.todos:
            text = " ".join(todo.text.lstrip("#/* ").split())
            lines.append(f"- `{name}:{todo.line}` {text}")
    if len(lines) == 2:
        lines.append("None in the Nix files.")
    return "\n".join(lines)


def _audit(report: AuditReport) -> str:
    summary = report.summary
    lines = [
        "## Audit summary",
        "",
        "| " + " | ".join(s.value for s in reversed(Severity)) + " |",
        "|" + "---:|" * len(Severity),
        "| " + " | ".join(str(summary[s.value]) for s in reversed(Severity)) + " |",
        "",
    ]
    if not report.findings:
        return "\n".join([*lines, "No findings."])
    lines += ["| Severity | Rule | Where | Finding |", "|---|---|---|---|"]
    for finding in report.findings[:MAX_FINDINGS_LISTED]:
        lines.append(
            f"| {finding.severity.value} | `{finding.rule_id}` | `{finding.file}:{finding.line}` "
            f"| {_cell(finding.message)} |"
        )
    hidden = len(report.findings) - MAX_FINDINGS_LISTED
    if hidden > 0:
        lines += ["", f"{hidden} more: run `securellm nix audit` for the full list."]
    return "\n".join(lines)


def _notes() -> str:
    return "\n".join(
        [
            "## Notes",
            "",
            "### Design decisions",
            "",
            manual.section("design-decisions"),
            "",
            "### Session notes",
            "",
            manual.section("session-notes"),
        ]
    )
