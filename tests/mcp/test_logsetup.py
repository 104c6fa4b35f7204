"""JSON log lines in the file; nothing on stdout."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from securellm.mcp.logsetup import configure_logging


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_records_are_json_lines_with_extra_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "sub" / "mcp.log"
    configure_logging(log_file, debug_to_stderr=False)
    logging.getLogger("securellm.test").info("hello", extra={"tool": "nix_eval"})
    for handler in logging.getLogger().handlers:
        handler.flush()
    record = json.loads(log_file.read_text().splitlines()[-1])
    assert (record["msg"], record["tool"], record["level"]) == ("hello", "nix_eval", "info")
    assert capsys.readouterr().out == ""


@pytest.mark.usefixtures("restore_root_logger")
def test_known_secrets_are_masked_in_message_extras_and_traceback(tmp_path: Path) -> None:
    secret = "plainsecretvaluewithnoshape"
    log_file = tmp_path / "mcp.log"
    configure_logging(log_file, debug_to_stderr=False, secrets=[secret])
    logger = logging.getLogger("securellm.test")
    try:
        raise RuntimeError(f"failed with {secret}")
    except RuntimeError:
        logger.exception("tool said %s", secret, extra={"detail": f"x {secret} y"})
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file.read_text()
    record = json.loads(text.splitlines()[-1])
    assert secret not in text
    assert record["msg"] == "tool said [REDACTED]"
    assert record["detail"] == "x [REDACTED] y"
    assert "failed with [REDACTED]" in record["exc"]
