"""The parser never raises, whatever text it is given."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from securellm.nixaudit.parser import parse_source

NIX_TOKENS = st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        ";",
        "=",
        ".",
        ":",
        "...",
        ",",
        "let",
        "in",
        "with",
        "rec",
        "inherit",
        "mkIf",
        "lib.mkForce",
        "mkOverride 10",
        "imports",
        "options",
        "config",
        "a",
        "b.c",
        '"s"',
        "''x''",
        "./p.nix",
        "/etc/nixos",
        "#",
        "\n",
        " ",
        "${",
        "1",
        "true",
        "mkOption",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    parse_source(text)


@settings(max_examples=150, deadline=None)
@given(st.binary())
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    parse_source(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(NIX_TOKENS, max_size=60).map(" ".join))
def test_nix_like_token_soup_never_raises(text: str) -> None:
    parse_source(text)


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    depth = 3000
    parse_source("{ a = " * depth + "1" + "; }" * depth)
