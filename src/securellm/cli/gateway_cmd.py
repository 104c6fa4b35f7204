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

from securellm.cli.common import ConfigOption, settings_or_exit

METRICS_PREFIX = "securellm-metrics-"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client in every worker


def gateway(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8100).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Run the OpenAI/Anthropic-compatible gateway."""
    import uvicorn

    from securellm.gateway.limits_http import uvicorn_options

    overrides: dict[str, Any] = {}
    for name, value in (("host", host), ("port", port), ("workers", workers)):
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
    with shared_metrics(gw.workers):
        uvicorn.run(
            "securellm.gateway.app:app_from_environment",
            factory=True,
            host=gw.host,
            port=gw.port,
            workers=gw.workers,
            loop="uvloop",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=int(gw.drain_timeout_s),
            ssl_certfile=str(gw.tls_cert_file) if gw.tls_cert_file else None,
            ssl_keyfile=str(gw.tls_key_file) if gw.tls_key_file else None,
            **uvicorn_options(gw.max_header_bytes),
        )


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
