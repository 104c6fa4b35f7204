"""``securellm offload logs MODEL [-f] [-n LINES]``: a model server's log, from offload's API."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated
from urllib.parse import quote

import aiohttp
import typer

from securellm.cli.common import ConfigOption, fail, settings_or_exit
from securellm.core.config import Settings
from securellm.offload.logs import server_log_path, tail


def logs(
    model: Annotated[str, typer.Argument(help="The model's registry id.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing while its server runs.")
    ] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, max=10_000)] = 100,
    config: ConfigOption = None,
) -> None:
    """Print the last lines of a model server's log; with -f keep following it."""
    settings = settings_or_exit(config)
    if asyncio.run(_stream(settings, model, lines, follow)):
        return
    path = server_log_path(settings.log_dir / "offload", model)
    if follow or not path.exists():
        fail(f"offload is not running at {settings.offload.host}:{settings.offload.port}")
    sys.stdout.buffer.write(tail(path, lines))  # offload is down: its file is still there


async def _stream(settings: Settings, model: str, lines: int, follow: bool) -> bool:
    """Copy the API's answer to stdout; False when offload does not answer."""
    url = (
        f"http://{settings.offload.host}:{settings.offload.port}/models/{quote(model, safe='')}"
        f"/logs?lines={lines}&follow={'true' if follow else 'false'}"
    )
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=1)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as answer:
            if answer.status >= 400:
                data = await answer.json(content_type=None)
                fail(str(data.get("error", {}).get("message") or f"HTTP {answer.status}"))
            async for chunk in answer.content.iter_any():
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
    except aiohttp.ClientConnectionError:
        return False
    return True
