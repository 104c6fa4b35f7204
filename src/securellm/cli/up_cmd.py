"""``securellm up``: the local model plus the gateway, on embedded defaults (``make run``)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from securellm.cli.common import (
    CacertOption,
    ConfigOption,
    LogLevelOption,
    err_console,
    fail,
    gateway_url,
    settings_or_exit,
    tls_context,
)
from securellm.core.config import Settings
from securellm.gateway.master import ensure_master_key, master_key_path

LOCAL_MODEL = "gemma-3-270m"
READY_TIMEOUT_S = 180


def _answers(url: str, context: ssl.SSLContext | None = None) -> bool:
    """Whether ``url`` answers; a TLS certificate that does not verify is a clear error."""
    try:
        with urllib.request.urlopen(url, timeout=2, context=context):  # noqa: S310 (our URL)
            return True
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ssl.SSLError):
            fail(
                f"TLS verification of {url} failed ({exc.reason}); pass --cacert FILE "
                "(or set SECURELLM_CACERT) with the CA that signed its certificate"
            )
        return False
    except OSError:
        return False


def _wait_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, context: ssl.SSLContext | None
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"offload exited ({process.returncode}); see {log}")
        if _answers(url, context):
            return
        time.sleep(0.3)
    fail(f"offload did not answer within {READY_TIMEOUT_S}s; see {log}")


@contextmanager
def local_offload(settings: Settings, cacert: Path | None = None) -> Iterator[None]:
    """Run ``securellm offload`` (the bundled model, loaded on demand) while inside.

    Only when the ``local`` provider is of kind ``offload`` and nothing answers on its
    address yet (an offload already running, e.g. as a service, is used as it is).
    """
    provider = settings.provider("local")
    if provider is None or provider.kind != "offload":
        yield
        return
    root = provider.effective_base_url.removesuffix("/v1")
    context = tls_context(cacert) if root.startswith("https://") else None
    if _answers(f"{root}/health", context):
        yield
        return
    log = settings.log_dir / "offload.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "securellm", "offload"]
    if settings.source is not None:
        argv += ["--config", str(settings.source)]
    err_console.print(f"starting offload ({LOCAL_MODEL} loads on first use); log: {log}")
    with log.open("ab") as handle:
        process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT)
    try:
        _wait_ready(f"{root}/health", process, log, context)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


QUESTION = "What is the capital of France?"


def _examples(settings: Settings) -> str:
    """Ready-to-paste curl and Python examples (the key is read from its file)."""
    gw = settings.gateway
    url = gateway_url(settings)
    key_file = master_key_path(settings)
    if gw.master_key is None:
        shell_key, py_key = f"$(cat {key_file})", f'pathlib.Path("{key_file}").read_text().strip()'
    else:
        shell_key, py_key = f"${gw.master_key_env}", f'os.environ["{gw.master_key_env}"]'
    model = f"local/{LOCAL_MODEL}" if settings.provider("local") else "<provider>/<model>"
    body = f'{{"model": "{model}", "messages": [{{"role": "user", "content": "{QUESTION}"}}]}}'
    lines = [
        "",
        "curl:",
        f"  curl {url}/v1/chat/completions \\",
        f'    -H "Authorization: Bearer {shell_key}" -H "Content-Type: application/json" \\',
        f"    -d '{body}'",
        "",
        "Python (pip install openai):",
        "  import os, pathlib, openai",
        f'  client = openai.OpenAI(base_url="{url}/v1", api_key={py_key})',
        f'  reply = client.chat.completions.create(model="{model}",',
        f'      messages=[{{"role": "user", "content": "{QUESTION}"}}])',
        "  print(reply.choices[0].message.content)",
        "",
    ]
    return "\n".join(lines)


def up(
    config: ConfigOption = None, cacert: CacertOption = None, log_level: LogLevelOption = None
) -> None:
    """Start offload with the bundled local model, and the gateway in front (Ctrl-C stops both).

    The banner goes to stderr; stdout carries the gateway's request log.
    """
    import uvicorn

    from securellm.cli.banner import write_banner
    from securellm.cli.gateway_cmd import uvicorn_level
    from securellm.core.logging import configure_logging
    from securellm.core.redact import redact
    from securellm.gateway.app import create_app
    from securellm.gateway.limits_http import uvicorn_options

    overrides = {"gateway": {"log_level": log_level}} if log_level else {}
    settings = settings_or_exit(config, **overrides)
    configure_logging(redact=redact, level=settings.gateway.log_level)
    ensure_master_key(settings)
    gw = settings.gateway
    with local_offload(settings, cacert):
        write_banner(settings, after=_examples(settings))
        uvicorn.run(
            create_app(settings, server_process=True),
            host=gw.host,
            port=gw.port,
            loop="uvloop",
            access_log=False,
            log_level=uvicorn_level(gw.log_level),
            ssl_certfile=str(gw.tls_cert_file) if gw.tls_cert_file else None,
            ssl_keyfile=str(gw.tls_key_file) if gw.tls_key_file else None,
            **uvicorn_options(gw.max_header_bytes),
        )


def register(app: typer.Typer) -> None:
    app.command("up")(up)
