"""``securellm gateway``: run the OpenAI/Anthropic-compatible gateway."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from securellm.cli.common import ConfigOption, LogLevelOption, settings_or_exit

METRICS_PREFIX = "securellm-metrics-"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client in every worker


def gateway(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8100).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    log_level: LogLevelOption = None,
) -> None:
    """Run the OpenAI/Anthropic-compatible gateway (request log on stdout, banner on stderr)."""
    import uvicorn

    from securellm.cli.banner import write_banner
    from securellm.gateway.limits_http import uvicorn_options

    overrides: dict[str, Any] = {}
    pairs = (("host", host), ("port", port), ("workers", workers), ("log_level", log_level))
    for name, value in pairs:
        if value is not None:
            overrides[name] = value
    settings = (
        settings_or_exit(config, gateway=overrides) if overrides else settings_or_exit(config)
    )
    if config is not None:
        os.environ["SECURELLM_CONFIG"] = str(config.resolve())
    for name, value in overrides.items():
        os.environ[f"SECURELLM_GATEWAY__{name.upper()}"] = str(value)
    gw = settings.gateway
    write_banner(settings)  # stderr: stdout carries the request log
    with shared_metrics(gw.workers):
        uvicorn.run(
            "securellm.gateway.app:app_from_environment",
            factory=True,
            host=gw.host,
            port=gw.port,
            workers=gw.workers,
            loop="uvloop",
            access_log=False,  # the request log (securellm.gateway.request_log) has each line
            log_level=uvicorn_level(gw.log_level),
            timeout_graceful_shutdown=int(gw.drain_timeout_s),
            ssl_certfile=str(gw.tls_cert_file) if gw.tls_cert_file else None,
            ssl_keyfile=str(gw.tls_key_file) if gw.tls_key_file else None,
            **uvicorn_options(gw.max_header_bytes),
        )


def uvicorn_level(level: str) -> str:
    """uvicorn's own messages: warnings and worse, or everything at ``debug``."""
    return level if level in ("debug", "error", "critical") else "warning"


@contextmanager
def shared_metrics(workers: int, root: Path | None = None) -> Iterator[Path | None]:
    """With several workers, a fresh private directory for prometheus-client's mmap files.

    Set in the environment before uvicorn spawns the workers (each imports prometheus-client
    anew and so starts in multiprocess mode); removed when the gateway stops. Directories
    left by a gateway that was killed are removed first. One worker keeps the in-process
    registry (no files, no environment change).
    """
    if workers <= 1:
        yield None
        return
    base = root or Path(tempfile.gettempdir())
    remove_stale_metrics_dirs(base)
    path = Path(tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-", dir=base))  # 0700
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(path, ignore_errors=True)


def remove_stale_metrics_dirs(base: Path) -> None:
    """Remove our metrics directories whose gateway process no longer exists."""
    for path in base.glob(f"{METRICS_PREFIX}*-*"):
        owner = path.name.removeprefix(METRICS_PREFIX).split("-", 1)[0]
        if not owner.isdigit() or path.is_symlink() or not path.is_dir():
            continue
        if path.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            continue


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway)
