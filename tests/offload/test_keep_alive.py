"""Ollama's ``keep_alive`` as offload reads it: seconds, Go durations, 0 and negative values."""

from __future__ import annotations

import pytest

from securellm.offload.errors import BadRequest
from securellm.offload.keep_alive import FOREVER, parse_keep_alive, take_keep_alive


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("0", 0.0),
        ("300", 300.0),
        (300, 300.0),
        (0.5, 0.5),
        (0, 0.0),
    ],
)
def test_durations_and_numbers_are_seconds(value: object, seconds: float) -> None:
    assert parse_keep_alive(value) == seconds


@pytest.mark.parametrize("value", [-1, "-1", "-5m", -0.1])
def test_a_negative_value_keeps_the_model_forever(value: object) -> None:
    assert parse_keep_alive(value) == FOREVER


@pytest.mark.parametrize("value", ["soon", "5 minutes", "5d", "m", "", "1h-5m", True, [], {}])
def test_anything_else_is_a_bad_request(value: object) -> None:
    with pytest.raises(BadRequest, match="keep_alive"):
        parse_keep_alive(value)


def test_the_field_is_taken_out_of_the_body_for_the_model_server() -> None:
    body = {"model": "m", "keep_alive": "1m"}
    assert take_keep_alive(body) == 60.0
    assert body == {"model": "m"}


def test_a_body_without_the_field_has_no_keep_alive() -> None:
    assert take_keep_alive({"model": "m"}) is None
