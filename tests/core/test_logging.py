"""JSON log lines carry the request id and never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from securellm.core.logging import configure_logging, request_id_var
from securellm.core.redact import redact


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(redact=redact, stream=buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_each_line_is_a_json_object_with_level_and_logger(stream: io.StringIO) -> None:
    logging.getLogger("securellm.test").warning("provider %s slow", "local")
    (entry,) = lines(stream)
    assert entry["level"] == "warning"
    assert entry["logger"] == "securellm.test"
    assert entry["message"] == "provider local slow"


def test_the_request_id_of_the_current_request_is_added(stream: io.StringIO) -> None:
    token = request_id_var.set("req_abc")
    try:
        logging.getLogger("securellm.test").info("hello")
    finally:
        request_id_var.reset(token)
    assert lines(stream)[0]["request_id"] == "req_abc"


def test_extras_are_kept_as_fields(stream: io.StringIO) -> None:
    logging.getLogger("securellm.test").info("discovery failed", extra={"provider": "x"})
    assert lines(stream)[0]["provider"] == "x"


def test_secrets_in_messages_and_extras_are_masked(stream: io.StringIO) -> None:
    secret = "sk-live-0123456789abcdefghijkl"
    logging.getLogger("securellm.test").error(
        "upstream refused key %s", secret, extra={"auth": f"Bearer {secret}"}
    )
    text = stream.getvalue()
    assert secret not in text
    assert "[REDACTED]" in text
