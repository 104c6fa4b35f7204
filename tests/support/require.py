"""A test that needs a real server skips locally when it is missing, and fails in CI."""

from __future__ import annotations

import os
import shutil
import socket
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> NoReturn:
    """Fail under CI=true (the server must be there); skip on a developer machine."""
    message = f"{what} is not available"
    if IN_CI:
        pytest.fail(f"{message}; CI must provide it (see .ci/run)")
    pytest.skip(message)


def require_binary(name: str) -> str:
    """Return the path of ``name`` on PATH, or fail/skip."""
    path = shutil.which(name)
    if path is None:
        missing(f"the {name!r} binary")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
