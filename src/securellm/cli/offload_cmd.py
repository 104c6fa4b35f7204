"""CLI for offload: ``securellm offload``, ``securellm models ...``, ``securellm gpu ...``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import aiohttp
import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from securellm.cli.common import ConfigOption, fail, out_console, settings_or_exit
from securellm.cli.gpu_status_cmd import gpu_status
from securellm.cli.offload_logs import logs
from securellm.core.config import Settings
from securellm.offload.catalog import model_detail, model_entry
from securellm.offload.errors import OffloadError
from securellm.offload.gpu import VramMonitor, build_reader
from securellm.offload.modes import ModeManager, ModeReport
from securellm.offload.registry import Registry
from securellm.offload.service import registry_path, scan

models_app = typer.Typer(help="The local model registry.", no_args_is_help=True)
gpu_app = typer.Typer(help="GPU memory and modes.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def serve(
    ctx: typer.Context,
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default 9000).")] = None,
) -> None:
    """Run the offload API: on-demand local models behind an OpenAI-compatible API."""
    if ctx.invoked_subcommand is not None:
        return  # `securellm offload logs ...`
    import uvicorn

    from securellm.offload.api import create_app

    wanted = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings_or_exit(config, offload=wanted)
    try:  # a missing GPU reader is a one-line error here, not a traceback from the lifespan
        build_reader(settings.offload)
    except OffloadError as exc:
        fail(str(exc))
    app = create_app(settings)
    uvicorn.run(app, host=settings.offload.host, port=settings.offload.port, log_level="info")


def _registry(settings: Settings) -> Registry:
    return Registry(registry_path(settings))


@models_app.command("scan")
def models_scan(config: ConfigOption = None) -> None:
    """Find model files and read their metadata (only new or changed files are read)."""
    settings = settings_or_exit(config)
    registry = _registry(settings)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=out_console, transient=True) as progress:
        task = progress.add_task("scanning", total=None)

        def tick(done: int, total: int, path: Any) -> None:
            progress.update(task, completed=done, total=total, description=f"{path.name[:40]}")

        report = scan(settings.offload, registry, tick)
    registry.close()
    out_console.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}; unusable {report.unusable}"
    )


def _human(count: int | None) -> str:
    if count is None:
        return "-"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            return f"{count / size:.1f}{unit}"
    return str(count)


@models_app.command("list")
def models_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List the registry with each model's VRAM estimate."""
    settings = settings_or_exit(config)
    registry = _registry(settings)
    rows = [model_entry(settings.offload, registry, r, loaded=False) for r in registry.all()]
    registry.close()
    if as_json:
        typer.echo(orjson.dumps({"data": rows}).decode())
        return
    table = Table("id", "format", "arch", "params", "quant", "ctx", "estimate", "status")
    for row in rows:
        table.add_row(
            row["id"],
            row["format"],
            row["architecture"] or "-",
            _human(row["parameters"]),
            row["quantization"] or "-",
            str(row["context_length"] or "-"),
            f"{row['estimate_mib']} MiB" if row["estimate_mib"] else "-",
            _status(row),
        )
    out_console.print(table)
    if not rows:
        out_console.print("no models; run `securellm models scan`")


def _status(row: dict[str, Any]) -> str:
    if not row["usable"]:
        return f"unusable: {row['reason']}"
    return "ok" if row["chat"]["source"] else "ok, completions only: no chat template"


@models_app.command("show")
def models_show(model_id: str, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Metadata, and the VRAM estimate next to what llama.cpp measured at the last load."""
    settings = settings_or_exit(config)
    registry = _registry(settings)
    record = registry.get(model_id)
    if record is None:
        registry.close()
        fail(f"model {model_id!r} is not in the registry (run `securellm models scan`)")
    detail = model_detail(settings.offload, registry, record, loaded=False)
    registry.close()
    if as_json:
        typer.echo(orjson.dumps(detail).decode())
        return
    for key in ("id", "path", "format", "usable", "reason", "architecture", "quantization"):
        out_console.print(f"[bold]{key}[/]: {detail[key]}", highlight=False)
    out_console.print(f"[bold]parameters[/]: {_human(detail['parameters'])}", highlight=False)
    _print_buffers(detail)


def _print_buffers(detail: dict[str, Any]) -> None:
    estimate, measured = detail["estimate"], detail["measured"]
    if estimate is None:
        return
    params = detail["load_params"]
    out_console.print(f"[bold]load[/]: ctx {params['ctx']}, ngl {params['ngl']}", highlight=False)
    table = Table("buffer (MiB)", "estimate", "measured")
    for key in ("weights", "kv", "compute", "output"):
        table.add_row(key, f"{estimate[key]:.1f}", f"{measured[key]:.1f}" if measured else "-")
    total_measured = f"{sum(measured.values()):.1f}" if measured else "-"
    table.add_row("total", f"{sum(estimate.values()):.1f}", total_measured)
    out_console.print(table)
    out_console.print(
        f"plus {detail['overhead_mib']} MiB CUDA context; VRAM needed about "
        f"{detail['estimate_mib']} MiB",
        highlight=False,
    )
    if detail["estimate_error_pct"] is not None:
        out_console.print(f"estimate vs measured: {detail['estimate_error_pct']:+.1f}%")
    elif measured:
        out_console.print("measured with other load parameters; the estimate is scaled by it")


async def _call(settings: Settings, method: str, path: str, body: Any = None) -> Any:
    """Ask a running offload; ``None`` when nothing answers."""
    url = f"http://{settings.offload.host}:{settings.offload.port}{path}"
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=1)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, url, json=body) as response,
        ):
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    if response.status >= 400:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        fail(str(error.get("message") or f"offload answered HTTP {response.status}"))
    return data


gpu_app.command("status")(gpu_status)


@gpu_app.command("mode")
def gpu_mode(
    mode: Annotated[str | None, typer.Argument(help="build or local; omit to show it.")] = None,
    config: ConfigOption = None,
) -> None:
    """Show or switch the GPU mode (build: free the GPU for compiling; local: serve models)."""
    settings = settings_or_exit(config)
    if mode is None:
        current = asyncio.run(_call(settings, "GET", "/mode"))
        shown = current["mode"] if current else "local (offload is not running)"
        out_console.print(f"mode: {shown}", highlight=False)
        return
    if mode not in ("build", "local"):
        fail(f"unknown mode {mode!r}; use 'build' or 'local'", 2)
    data = asyncio.run(_call(settings, "POST", "/mode", {"mode": mode}))
    if data is None:
        out_console.print("offload is not running: switching the systemd units only")
        data = asyncio.run(_switch_here(settings, mode)).to_json()
    _print_mode(data)


async def _switch_here(settings: Settings, mode: str) -> ModeReport:
    try:
        monitor = VramMonitor(build_reader(settings.offload))
        return await ModeManager(settings.offload, monitor).switch(mode)
    except OffloadError as exc:
        fail(str(exc))


def _print_mode(report: dict[str, Any]) -> None:
    out_console.print(f"mode: {report['mode']}", highlight=False)
    if report.get("unloaded"):
        out_console.print(f"unloaded: {', '.join(report['unloaded'])}", highlight=False)
    for unit, result in (report.get("units") or {}).items():
        out_console.print(f"  {unit}: {result}", highlight=False)
    if report.get("used_mib") is not None:
        out_console.print(f"VRAM used: {report['used_mib']} MiB", highlight=False)
    if report.get("below_threshold") is False:
        out_console.print(
            f"[yellow]still above {report['threshold_mib']} MiB[/]; holders:", highlight=False
        )
        for holder in report.get("holders") or []:
            out_console.print(
                f"  pid {holder['pid']} {holder['name']}: {holder['used_mib']} MiB", highlight=False
            )


def register(app: typer.Typer) -> None:
    """Attach ``offload``, ``models`` and ``gpu`` to the root app."""
    offload_app = typer.Typer(invoke_without_command=True)
    offload_app.callback()(serve)
    offload_app.command("logs")(logs)
    app.add_typer(offload_app, name="offload")
    app.add_typer(models_app, name="models")
    app.add_typer(gpu_app, name="gpu")
