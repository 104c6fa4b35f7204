"""Ollama's per-request ``keep_alive``: how long a model stays loaded after the request.

Accepted forms, as Ollama accepts them: a number of seconds (``300``, ``0.5``), or a Go
duration string (``"5m"``, ``"1h30m"``, ``"250ms"``, ``"0"``); a number as a string
(``"300"``) counts as seconds too. ``0`` unloads the model once the request ends; a
negative value keeps it loaded with no idle timeout (it can still be evicted to make room,
like Ollama's). Anything else is refused with 400 before the model is loaded.
"""

from __future__ import annotations

import math
import re
from typing import Any

from securellm.offload.errors import BadRequest

FOREVER = math.inf
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_EXAMPLES = 'a duration like "5m", "1h" or "30s", or a number of seconds (0 unloads, -1 keeps)'


def parse_keep_alive(value: Any) -> float:
    """Seconds to keep the model loaded after the request; ``FOREVER`` for a negative value."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadRequest(f"'keep_alive' must be {_EXAMPLES}")
    seconds = _seconds(value.strip()) if isinstance(value, str) else float(value)
    if math.isnan(seconds):
        raise BadRequest(f"'keep_alive' must be {_EXAMPLES}")
    return FOREVER if seconds < 0 else seconds


def _seconds(text: str) -> float:
    if _NUMBER.fullmatch(text):
        return float(text)
    sign, body = (-1.0, text[1:]) if text[:1] == "-" else (1.0, text.removeprefix("+"))
    if not _DURATION.fullmatch(body):
        raise BadRequest(f"'keep_alive' {text[:40]!r} is not {_EXAMPLES}")
    total = sum(float(amount) * _UNITS[unit] for amount, unit in _PART.findall(body))
    return sign * total


def take_keep_alive(payload: dict[str, Any]) -> float | None:
    """Remove ``keep_alive`` from a request body (model servers do not know it) and parse it."""
    if "keep_alive" not in payload:
        return None
    value = payload.pop("keep_alive")
    return None if value is None else parse_keep_alive(value)
