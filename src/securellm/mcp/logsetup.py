"""JSON logs to a file: stdout belongs to the protocol alone.

The SDK's ``MCPServer`` calls ``logging.basicConfig`` with a stderr handler; that is a
no-op once the root logger has handlers, so :func:`configure_logging` must run first.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from securellm.core.redact import redact

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields.

    Every string (message, extras, traceback) passes through ``redact`` with ``secrets``,
    the values this server knows to be secret: a tool error that quotes one, logged by the
    SDK, reaches the file masked.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def _clean(self, text: str) -> str:
        return redact(text, self._secrets)

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self._clean(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED:
                payload[key] = self._clean(value) if isinstance(value, str) else value
        if record.exc_info:
            payload["exc"] = self._clean(self.formatException(record.exc_info))
        return orjson.dumps(payload, default=str).decode()


def configure_logging(
    log_file: Path,
    *,
    debug_to_stderr: bool,
    level: int = logging.INFO,
    secrets: Iterable[str] = (),
) -> None:
    """Send every log record to ``log_file`` (JSON lines), and to stderr only when asked."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = JsonFormatter(secrets)
    handlers: list[logging.Handler] = []
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8", delay=True))
    except OSError:
        handlers.append(logging.NullHandler())
    if debug_to_stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug_to_stderr else level)
    # uvicorn and httpx log through their own loggers; keep them on our handlers only.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "mcp"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
