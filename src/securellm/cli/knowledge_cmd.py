"""``securellm knowledge export|import DIR``: the knowledge base as Markdown files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from securellm.cli.common import ConfigOption, err_console, fail, settings_or_exit

knowledge_app = typer.Typer(
    help="The MCP server's knowledge base as Markdown files you can read, edit and keep in git.",
    no_args_is_help=True,
)

if TYPE_CHECKING:
    from securellm.mcp.knowledge.store import KnowledgeStore

DirArgument = Annotated[Path, typer.Argument(help="The folder of Markdown files.")]


def _store(config: Path | None) -> KnowledgeStore:
    from securellm.mcp.errors import KnowledgeError
    from securellm.mcp.knowledge.store import KnowledgeStore

    settings = settings_or_exit(config)
    mcp = settings.mcp
    store = KnowledgeStore(
        mcp.knowledge_db_path or settings.data_dir / "knowledge.db",
        busy_timeout_ms=mcp.knowledge_busy_timeout_ms,
    )
    try:
        store.open()
    except KnowledgeError as exc:
        fail(str(exc))
    return store


@knowledge_app.command("export")
def export(directory: DirArgument, config: ConfigOption = None) -> None:
    """Write one Markdown file per entry into DIR (files already up to date are left alone)."""
    from securellm.mcp.errors import KnowledgeError
    from securellm.mcp.knowledge.files import export_dir

    store = _store(config)
    try:
        report = export_dir(store, directory)
    except (KnowledgeError, OSError) as exc:
        fail(f"export to {directory} failed: {exc}")
    finally:
        store.close()
    typer.echo(
        f"exported to {directory}: {report.written} written, {report.unchanged} unchanged, "
        f"{report.removed} old names removed"
    )


@knowledge_app.command("import")
def import_(directory: DirArgument, config: ConfigOption = None) -> None:
    """Read DIR's Markdown files into the knowledge base (idempotent by each file's id).

    Files that cannot be read are listed with the reason and skipped (exit status 1); the
    others are imported.
    """
    from securellm.mcp.errors import KnowledgeError
    from securellm.mcp.knowledge.files import import_dir
    from securellm.mcp.knowledge.notefile import NoteFileError

    store = _store(config)
    try:
        report = import_dir(store, directory)
    except (KnowledgeError, NoteFileError) as exc:
        fail(f"import from {directory} failed: {exc}")
    finally:
        store.close()
    for problem in report.problems:
        line = f"skipped {problem.path}: {problem.reason}"
        err_console.print(line, highlight=False, markup=False, soft_wrap=True)
    typer.echo(
        f"imported from {directory}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.problems)} skipped"
    )
    if report.problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach this component's commands to the root app."""
    app.add_typer(knowledge_app, name="knowledge")
