"""``securellm gpu status``: the loaded models like ``ollama ps``, then the GPU's memory.

Asks a running offload (``GET /ps``); without one, reads the GPU directly and lists no
models. Plain aligned columns, never cut: piped output keeps every id whole.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import aiohttp
import orjson
import typer

from securellm.cli.common import ConfigOption, fail, settings_or_exit
from securellm.core.config import Settings
from securellm.offload.errors import OffloadError
from securellm.offload.gpu import VramMonitor, build_reader

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
HEADER = ("MODEL", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL")
_STEPS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


async def running_status(settings: Settings) -> dict[str, Any] | None:
    """``GET /ps`` of the configured offload; ``None`` when nothing answers."""
    url = f"http://{settings.offload.host}:{settings.offload.port}/ps"
    timeout = aiohttp.ClientTimeout(total=10, sock_connect=1)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url) as response,
        ):
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    if response.status >= 400 or not isinstance(data, dict):
        error = data.get("error", {}) if isinstance(data, dict) else {}
        fail(str(error.get("message") or f"offload answered HTTP {response.status}"))
    return data


def local_status(settings: Settings) -> dict[str, Any]:
    """The GPU read here, with no models (offload is not running)."""
    try:
        reading = VramMonitor(build_reader(settings.offload)).read()
    except OffloadError as exc:
        fail(str(exc))
    return {"source": reading.source, "gpus": [g.__dict__ for g in reading.gpus], "models": []}


def size_text(mib: int) -> str:
    return f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib} MiB"


def until_text(model: dict[str, Any]) -> str:
    """``pinned``, ``busy``, ``forever``, or ``4 minutes from now`` (Ollama's UNTIL)."""
    left = model.get("expires_in_s")
    if model["until"] != "idle" or left is None:
        return str(model["until"])
    seconds = int(left)
    if seconds < 1:
        return "now"
    step, unit = next((s, u) for s, u in _STEPS if seconds >= s)
    count = seconds // step
    return f"{count} {unit}{'' if count == 1 else 's'} from now"


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell, separated by three spaces, nothing truncated."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def render(status: dict[str, Any]) -> list[str]:
    rows: list[tuple[str, ...]] = [HEADER]
    for model in status["models"]:
        rows.append(
            (
                model["model"],
                size_text(int(model["size_mib"])),
                model["processor"],
                str(model["context"]),
                until_text(model),
            )
        )
    lines = table(rows) if status["models"] else ["no models loaded"]
    lines.append("")
    for gpu in status["gpus"]:
        lines.append(
            f"GPU {gpu['index']} {gpu['name']}: {gpu['used_mib']} MiB used, "
            f"{gpu['free_mib']} MiB free of {gpu['total_mib']} MiB ({status['source']})"
        )
    return lines


def gpu_status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Loaded models (size, CPU/GPU split, context, until when) and GPU memory, like ollama ps."""
    settings = settings_or_exit(config)
    status = asyncio.run(running_status(settings)) or local_status(settings)
    if as_json:
        typer.echo(orjson.dumps(status).decode())
        return
    for line in render(status):
        typer.echo(line)
